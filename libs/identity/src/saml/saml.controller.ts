import { Body, Controller, Get, Header, Inject, Optional, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { requestIdOf } from '@realm/http';
import { type IdentityAuditContext } from '../identity-audit.js';
import { IdentityError } from '../identity.error.js';
import { SessionService } from '../sessions/session.service.js';
import { SamlAcsFormDto, SamlLoginQueryDto } from './saml.dto.js';
import { SamlServiceProvider } from './saml-service-provider.js';

/** The SP endpoints of SAML Web Browser SSO (saml-profiles §4.1): metadata, login, ACS. */
@Controller('saml')
export class SamlController {
  constructor(
    private readonly sessions: SessionService,
    @Optional() @Inject(SamlServiceProvider) private readonly serviceProvider?: SamlServiceProvider,
  ) {}

  /** Our SP metadata at a stable URL, for the IdP administrator (saml-metadata §4.1.1 media type). */
  @Get('metadata')
  @Header('Content-Type', 'application/samlmetadata+xml')
  @Header('Cache-Control', 'public, max-age=300')
  metadata(): string {
    return this.sp().metadataXml();
  }

  /** Starts an SP-initiated login: 303 to the IdP with an AuthnRequest (HTTP-Redirect binding). */
  @Get('login')
  async login(@Query() query: SamlLoginQueryDto, @Req() request: Request, @Res() response: Response): Promise<void> {
    const url = await this.sp().loginUrl(query.returnTo, contextOf(request));
    response.redirect(303, url);
  }

  /** The assertion consumer service: verify, provision, start a session, 303 to returnTo. */
  @Post('acs')
  async acs(@Body() form: SamlAcsFormDto, @Req() request: Request, @Res() response: Response): Promise<void> {
    const context = contextOf(request);
    const login = await this.sp().acceptResponse(form, context);
    await this.sessions.start(login.principal.id, request, response, { ...context, actor: { type: 'user', id: login.principal.id } });
    response.redirect(303, login.returnTo);
  }

  private sp(): SamlServiceProvider {
    if (!this.serviceProvider) throw new IdentityError('IDENTITY_SAML_NOT_CONFIGURED', 'SAML login is off: set identity.saml.idpMetadataFile');
    return this.serviceProvider;
  }
}

export function contextOf(request: Request): IdentityAuditContext {
  const requestId = requestIdOf(request);
  return requestId === undefined ? {} : { requestId };
}
