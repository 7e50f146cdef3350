import type { ServerResponse } from 'node:http';
import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule, type OnModuleInit, RequestMethod } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import type { Database } from '@realm/persistence';
import type { PrincipalService } from '../principals/principal.service.js';
import { SCIM_OPTIONS, ScimController, type ScimHttpOptions } from './scim.controller.js';
import { SCIM_AUDIT, ScimBearerGuard, ScimErrorResponder, ScimExceptionFilter, type ScimHttpRequest, scimBodyReader } from './scim-http.js';
import { ScimTokenService } from './scim-token.service.js';
import { ScimService } from './scim.service.js';

/** SCIM provisioning of one appliance process. */
export interface Scim {
  readonly service: ScimService;
  readonly tokens: ScimTokenService;
  readonly audit: AuditLog;
  readonly http: ScimHttpOptions;
}

export interface ScimOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
}

/**
 * Opens SCIM over the runtime opened before Nest: the role mapping is identity.saml.roles.* (the
 * same as SAML login), the base URL `<identity.issuer>/scim/v2`, the body limit http.bodyLimitBytes.
 */
export function openScim(db: Database, audit: AuditLog, principals: PrincipalService, config: RealmConfig, options: ScimOptions = {}): Scim {
  const baseUrl = `${config.identity.issuer}/scim/v2`;
  const clock = options.clock ?? Date.now;
  return {
    service: new ScimService(db, audit, principals, { roleGroups: config.identity.saml.roleGroups, baseUrl, clock }),
    tokens: new ScimTokenService(db, audit, { clock }),
    audit,
    http: { baseUrl, bodyLimitBytes: config.http.bodyLimitBytes },
  };
}

/**
 * /scim/v2 (RFC 7644) with its own bearer tokens. Reads application/scim+json bodies itself, and
 * answers failures that happen before routing (the platform's JSON parser refusing a body) in the
 * SCIM error schema too, with an Express error handler on /scim/v2 placed after the routes and
 * before Nest's catch-all.
 */
@Module({})
export class ScimModule implements NestModule, OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ScimErrorResponder) private readonly responder: ScimErrorResponder,
    @Inject(SCIM_OPTIONS) private readonly options: ScimHttpOptions,
  ) {}

  static forRoot(scim: Scim): DynamicModule {
    return {
      module: ScimModule,
      controllers: [ScimController],
      providers: [
        { provide: ScimService, useValue: scim.service },
        { provide: ScimTokenService, useValue: scim.tokens },
        { provide: SCIM_AUDIT, useValue: scim.audit },
        { provide: SCIM_OPTIONS, useValue: scim.http },
        ScimErrorResponder,
        ScimExceptionFilter,
        ScimBearerGuard,
      ],
      exports: [ScimService, ScimTokenService],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(scimBodyReader(this.options.bodyLimitBytes)).forRoutes({ path: 'scim/v2/{*rest}', method: RequestMethod.ALL });
  }

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    // Express calls a four-argument middleware only for errors; Nest's routes answer their own.
    adapter.use('/scim/v2', (error: unknown, req: ScimHttpRequest, res: ServerResponse, _next: (error?: unknown) => void) => {
      void this.responder.respond(error, req, res);
    });
  }
}
