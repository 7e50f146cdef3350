import { IsOptional, IsString, MaxLength } from 'class-validator';

/** GET /saml/login: where to continue after login (checked again by the service: same origin only). */
export class SamlLoginQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  returnTo?: string;
}

/**
 * POST /saml/acs, the HTTP-POST binding form (SAML bindings §3.5.4). The size of SAMLResponse is
 * checked by the service, so that an oversized response is refused with its own code and audited.
 */
export class SamlAcsFormDto {
  @IsString()
  SAMLResponse!: string;

  /** SAML bindings §3.5.3: at most 80 bytes from a conforming IdP; a little slack for long paths. */
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  RelayState?: string;
}
