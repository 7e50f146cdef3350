import type { ServerResponse } from 'node:http';
import { Controller, Get, Res } from '@nestjs/common';
import { Metrics } from './metrics.js';

/**
 * `GET /metrics`: the Prometheus text exposition format. The response is written directly so the
 * registry's own Content-Type is used (`text/plain; version=0.0.4`), not Nest's JSON or text default.
 */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  async scrape(@Res() res: ServerResponse): Promise<void> {
    const body = await this.metrics.exposition();
    res.statusCode = 200;
    res.setHeader('Content-Type', this.metrics.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  }
}
