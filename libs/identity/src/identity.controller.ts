import { Controller, Get, Header } from '@nestjs/common';
import { TokenService } from './tokens/token.service.js';

/** Public endpoints of the token service. */
@Controller()
export class IdentityController {
  constructor(private readonly tokens: TokenService) {}

  /** The public keys that verify this appliance's access tokens (RFC 7517 JWK Set; RFC 8414 jwks_uri). */
  @Get('.well-known/jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  jwks() {
    return this.tokens.jwks();
  }
}
