export { IDENTITY_ENTITIES, type PrincipalKind, type PrincipalStatus, type SigningKeyState } from './identity.entities.js';
export { IdentityError, type IdentityErrorCode } from './identity.error.js';
export type { IdentityAuditContext } from './identity-audit.js';
export { IdentityModule, openIdentity, type Identity, type IdentityOptions } from './identity.module.js';
export { IDENTITY_MIGRATIONS } from './migrations/index.js';
export { normalizeUserName, PRINCIPAL_ROLES, serviceUri, type Principal, type PrincipalRole } from './principals/principal.js';
export { PrincipalService, type PrincipalServiceOptions, type UserInput } from './principals/principal.service.js';
export {
  SERVICE_CA_COMMON_NAME,
  serviceCaKeyUri,
  ServiceCertificateAuthority,
  type IssuedServiceCertificate,
  type ServiceCaOptions,
  type ServiceCertificateRecord,
  type VerifiedServiceCredential,
} from './service-ca/service-certificate-authority.js';
export type { AccessTokenClaims, TokenAudience } from './tokens/access-token-claims.js';
export { signingKeyUri, TOKEN_SIGNING_ALG, type JsonWebKeySet, type PublicSigningJwk } from './tokens/token-signing-keys.js';
export { TokenService, type IssueAccessTokenOptions, type IssuedAccessToken, type TokenServiceOptions, type VerifiedAccessToken } from './tokens/token.service.js';
