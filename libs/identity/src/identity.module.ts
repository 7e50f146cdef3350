import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { AuditLog } from '@realm/audit';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { IdentityController } from './identity.controller.js';
import { PrincipalService } from './principals/principal.service.js';
import { type ServiceCaOptions, ServiceCertificateAuthority } from './service-ca/service-certificate-authority.js';
import { TokenService, type TokenServiceOptions } from './tokens/token.service.js';

/** The identity services of one appliance process. */
export interface Identity {
  readonly principals: PrincipalService;
  readonly tokens: TokenService;
  readonly serviceCa: ServiceCertificateAuthority;
}

export interface IdentityOptions {
  readonly tokens: TokenServiceOptions;
  readonly serviceCa?: ServiceCaOptions;
  /** Create the service CA now when there is none (default true; safe on several nodes at once). */
  readonly initializeServiceCa?: boolean;
  /** Milliseconds since the epoch, for every identity service; injectable for tests. */
  readonly clock?: () => number;
}

/**
 * Opens the identity services over the runtime opened before Nest (database, vault, audit log):
 * creates the first token-signing key and, unless told otherwise, the service CA, so that a
 * problem with either stops the start with one line.
 */
export async function openIdentity(db: Database, vault: KeyVault, audit: AuditLog, options: IdentityOptions): Promise<Identity> {
  const clock = options.clock ?? options.tokens.clock ?? Date.now;
  const principals = new PrincipalService(db, audit, { clock });
  const tokens = await TokenService.open(db, vault, audit, principals, { ...options.tokens, clock });
  const serviceCa = new ServiceCertificateAuthority(db, vault, audit, principals, { ...options.serviceCa, clock });
  if (options.initializeServiceCa ?? true) await serviceCa.initialize();
  return { principals, tokens, serviceCa };
}

/** Provides the {@link Identity} services opened before Nest started. */
@Global()
@Module({})
export class IdentityModule {
  static forRoot(identity: Identity): DynamicModule {
    return {
      module: IdentityModule,
      controllers: [IdentityController],
      providers: [
        { provide: PrincipalService, useValue: identity.principals },
        { provide: TokenService, useValue: identity.tokens },
        { provide: ServiceCertificateAuthority, useValue: identity.serviceCa },
      ],
      exports: [PrincipalService, TokenService, ServiceCertificateAuthority],
    };
  }
}
