import { type DynamicModule, Global, Module } from '@nestjs/common';
import { AuditLog } from './audit-log.js';

/** Provides the {@link AuditLog} the app opened before Nest started. */
@Global()
@Module({})
export class AuditModule {
  static forRoot(log: AuditLog): DynamicModule {
    return { module: AuditModule, providers: [{ provide: AuditLog, useValue: log }], exports: [AuditLog] };
  }
}
