import { type DynamicModule, Inject, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { RealmConfig } from '@realm/config';
import { OAuthController } from './oauth.controller.js';
import { OAuthServer, type OAuthServerDependencies, type OAuthServerOptions } from './oauth-server.js';

/** Expired codes, device codes, refresh tokens and sessions are deleted this often (and at start). */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Opens the authorization server over the runtime opened before Nest (database, vault, audit log,
 * identity services, sessions), with its settings from `identity.*`.
 */
export function openOAuth(config: RealmConfig, deps: OAuthServerDependencies, overrides: Partial<OAuthServerOptions> = {}): Promise<OAuthServer> {
  return OAuthServer.open(deps, {
    issuer: config.identity.issuer,
    accessTokenLifetimeSeconds: config.identity.accessTokenLifetimeSeconds,
    authorizationCodeLifetimeSeconds: config.identity.oauth.authorizationCodeLifetimeSeconds,
    deviceCodeLifetimeSeconds: config.identity.oauth.deviceCodeLifetimeSeconds,
    refreshTokenLifetimeSeconds: config.identity.oauth.refreshTokenLifetimeSeconds,
    sessionLifetimeSeconds: config.identity.session.absoluteTimeoutSeconds,
    trustProxy: config.http.trustProxy,
    ...overrides,
  });
}

/** The OAuth 2.0 authorization server's HTTP endpoints under /oauth, over an opened {@link OAuthServer}. */
@Module({})
export class OAuthModule implements OnModuleInit, OnModuleDestroy {
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(OAuthServer) private readonly oauth: OAuthServer) {}

  static forRoot(oauth: OAuthServer): DynamicModule {
    return {
      module: OAuthModule,
      controllers: [OAuthController],
      providers: [{ provide: OAuthServer, useValue: oauth }],
      exports: [OAuthServer],
    };
  }

  onModuleInit(): void {
    const purge = () => void this.oauth.purgeExpired().catch(() => undefined);
    purge();
    this.purgeTimer = setInterval(purge, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }
}
