import { Controller, Get, Header, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PrincipalService } from '../principals/principal.service.js';
import { contextOf } from '../saml/saml.controller.js';
import { accountPage, PAGE_CSP, signedOutPage } from './account-page.js';
import { SessionGuard, sessionOf } from './session.guard.js';
import { SessionService } from './session.service.js';

/** The appliance's own minimal pages: who is signed in, and logout. */
@Controller()
export class AccountController {
  constructor(
    private readonly sessions: SessionService,
    private readonly principals: PrincipalService,
  ) {}

  /** Without a session, a browser is sent to log in and comes back here. */
  @Get('account')
  @Header('Content-Security-Policy', PAGE_CSP)
  async account(@Req() request: Request, @Res() response: Response): Promise<void> {
    const session = await this.sessions.current(request);
    if (!session) {
      response.redirect(303, `/saml/login?returnTo=${encodeURIComponent('/account')}`);
      return;
    }
    const principal = await this.principals.get(session.principalId);
    response.type('html').send(accountPage(principal, session.csrfToken));
  }

  /** Ends the session; the CSRF token is checked by {@link SessionGuard}. */
  @Post('logout')
  @UseGuards(SessionGuard)
  @Header('Content-Security-Policy', PAGE_CSP)
  async logout(@Req() request: Request, @Res() response: Response): Promise<void> {
    sessionOf(request);
    await this.sessions.end(request, response, contextOf(request));
    response.status(200).type('html').send(signedOutPage());
  }
}
