import { type DynamicModule, Global, Module } from '@nestjs/common';
import { Database } from './database.js';

/**
 * Provides the {@link Database} the app opened before Nest started, so that a database that is
 * down or misconfigured stops the start with one line rather than a DI stack trace.
 */
@Global()
@Module({})
export class PersistenceModule {
  static forRoot(database: Database): DynamicModule {
    return { module: PersistenceModule, providers: [{ provide: Database, useValue: database }], exports: [Database] };
  }
}
