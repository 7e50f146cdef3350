import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { Metrics } from './metrics.js';

/**
 * Provides {@link Metrics} to every module and serves `GET /metrics`. Global because any bounded
 * context may add metrics, and all of them must land in the one registry that is scraped.
 */
@Global()
@Module({ controllers: [MetricsController], providers: [Metrics], exports: [Metrics] })
export class MetricsModule {}
