import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { RealmConfig } from './load-config.js';

/** Injection token of the resolved {@link RealmConfig}. */
export const REALM_CONFIG = Symbol('REALM_CONFIG');

/**
 * Provides the configuration resolved once at boot. The app loads it before creating the Nest
 * application, so a bad value stops the start with one line instead of a DI stack trace.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: RealmConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: REALM_CONFIG, useValue: config }], exports: [REALM_CONFIG] };
  }
}
