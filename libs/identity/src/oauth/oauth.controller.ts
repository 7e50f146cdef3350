import { All, Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { OAUTH_MOUNT_PATH, OAuthServer } from './oauth-server.js';

/**
 * Mounts oidc-provider under /oauth (its documented way into a Nest app: a catch-all handing the
 * request, path rewritten relative to the mount, to the provider's callback), the interaction step,
 * and the RFC 8414 §3 metadata at the root, where an issuer without a path puts it.
 */
@Controller()
export class OAuthController {
  constructor(@Inject(OAuthServer) private readonly oauth: OAuthServer) {}

  @Get('oauth/interaction/:uid')
  interaction(@Param('uid') uid: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    return this.oauth.interaction(uid, req, res);
  }

  @Get(['.well-known/oauth-authorization-server', '.well-known/openid-configuration'])
  metadata(@Req() req: Request, @Res() res: Response): Promise<void> {
    req.url = '/.well-known/openid-configuration';
    req.originalUrl = `${OAUTH_MOUNT_PATH}/.well-known/openid-configuration`;
    return this.oauth.handle(req, res);
  }

  @All(['oauth', 'oauth/*path'])
  provider(@Req() req: Request, @Res() res: Response): Promise<void> {
    req.url = req.originalUrl.slice(OAUTH_MOUNT_PATH.length) || '/';
    return this.oauth.handle(req, res);
  }
}
