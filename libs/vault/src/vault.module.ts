import { type DynamicModule, Global, Module } from '@nestjs/common';
import { KeyVault } from './key-vault.js';

/**
 * Provides the {@link KeyVault} the app opened before Nest started (the HSM login happens there,
 * so a wrong PIN stops the start with one line).
 */
@Global()
@Module({})
export class VaultModule {
  static forRoot(vault: KeyVault): DynamicModule {
    return { module: VaultModule, providers: [{ provide: KeyVault, useValue: vault }], exports: [KeyVault] };
  }
}
