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
export { fetchIdpMetadata, parseIdpMetadata, readIdpMetadataFile, type IdpMetadata } from './saml/idp-metadata.js';
export { checkReturnTo, DEFAULT_RETURN_TO } from './saml/return-to.js';
export { rolesFromGroups } from './saml/role-mapping.js';
export { MAX_SAML_RESPONSE_LENGTH } from './saml/saml-response-screen.js';
export { SamlServiceProvider, type SamlPostForm, type SamlLogin as SamlLoginResult, type SamlServiceProviderOptions } from './saml/saml-service-provider.js';
export { openSamlLogin, SamlLoginModule, type SamlLogin, type SamlLoginOptions } from './saml/saml-login.module.js';
export { CSRF_FIELD, CSRF_HEADER, SessionGuard, sessionOf } from './sessions/session.guard.js';
export { SESSION_COOKIE, SessionService, type ApplianceSession, type SessionServiceOptions } from './sessions/session.service.js';
export { CLIENT_GRANTS, DEVICE_CODE_GRANT, OAuthClientService, type ClientGrant, type CreateClientInput, type CreatedClient, type OAuthClient } from './oauth/oauth-client.service.js';
export { KMS_SCOPE, OAUTH_MOUNT_PATH, OAuthServer, type ApplianceSessionLookup, type OAuthServerDependencies, type OAuthServerOptions } from './oauth/oauth-server.js';
export { OAuthModule, openOAuth } from './oauth/oauth.module.js';
export { openScim, ScimModule, type Scim, type ScimOptions } from './scim/scim.module.js';
export { ScimService, type ScimListQuery, type ScimListResponse, type ScimRequestContext, type ScimResource, type ScimServiceOptions } from './scim/scim.service.js';
export { ScimTokenService, ScimUnauthorizedError, type ScimClient, type ScimTokenInfo } from './scim/scim-token.service.js';
export type { ScimRoleGroups } from './scim/scim-roles.js';
