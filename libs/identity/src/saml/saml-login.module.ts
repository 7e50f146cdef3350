import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import type { Database } from '@realm/persistence';
import type { Identity } from '../identity.module.js';
import { AccountController } from '../sessions/account.controller.js';
import { SessionGuard } from '../sessions/session.guard.js';
import { SessionService } from '../sessions/session.service.js';
import { SamlController } from './saml.controller.js';
import type { IdpMetadata } from './idp-metadata.js';
import { SamlServiceProvider } from './saml-service-provider.js';

/** SAML login and the appliance's browser sessions of one process. */
export interface SamlLogin {
  readonly sessions: SessionService;
  /** Undefined when SAML login is off (neither identity.saml.idpMetadataFile nor idpMetadataUrl set). */
  readonly serviceProvider: SamlServiceProvider | undefined;
}

export interface SamlLoginOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
  /** IdP metadata fetched from identity.saml.idpMetadataUrl (see {@link fetchIdpMetadata}). */
  readonly metadata?: IdpMetadata;
}

/** Opens the session service and, when configured, the SAML SP (reading the IdP metadata now). */
export function openSamlLogin(config: RealmConfig, db: Database, audit: AuditLog, identity: Identity, options: SamlLoginOptions = {}): SamlLogin {
  const clock = options.clock ?? Date.now;
  return {
    sessions: new SessionService(config, db, audit, identity.principals, { clock }),
    serviceProvider: SamlServiceProvider.open(config, db, audit, identity.principals, { clock, ...(options.metadata && { metadata: options.metadata }) }),
  };
}

/**
 * GET /saml/metadata, GET /saml/login, POST /saml/acs, GET /account, POST /logout; provides
 * {@link SessionService} and {@link SessionGuard} to every module (the OAuth interaction step).
 * Needs {@link IdentityModule} (PrincipalService).
 */
@Global()
@Module({})
export class SamlLoginModule {
  static forRoot(login: SamlLogin): DynamicModule {
    return {
      module: SamlLoginModule,
      controllers: [SamlController, AccountController],
      providers: [
        { provide: SessionService, useValue: login.sessions },
        ...(login.serviceProvider ? [{ provide: SamlServiceProvider, useValue: login.serviceProvider }] : []),
        SessionGuard,
      ],
      exports: [SessionService, SessionGuard, ...(login.serviceProvider ? [SamlServiceProvider] : [])],
    };
  }
}
