import { RealmError } from '@realm/errors';

export type IdentityErrorCode =
  /** A caller passed a malformed name, role, key, lifetime or option. */
  | 'IDENTITY_INVALID_ARGUMENT'
  | 'IDENTITY_PRINCIPAL_NOT_FOUND'
  /** A principal of that kind and name (or id) already exists. */
  | 'IDENTITY_PRINCIPAL_EXISTS'
  /** The principal is disabled or deleted: it may not obtain or use credentials. */
  | 'IDENTITY_PRINCIPAL_DISABLED'
  /** Deletion is final: a deleted principal cannot be enabled, disabled or given roles. */
  | 'IDENTITY_PRINCIPAL_DELETED'
  /** Malformed, wrongly typed, unknown key, refused algorithm or bad signature: one generic answer. */
  | 'IDENTITY_TOKEN_INVALID'
  | 'IDENTITY_TOKEN_EXPIRED'
  /** `nbf` (or `iat`) lies in the future beyond the clock tolerance. */
  | 'IDENTITY_TOKEN_NOT_YET_VALID'
  | 'IDENTITY_TOKEN_AUDIENCE'
  | 'IDENTITY_TOKEN_ISSUER'
  /** The principal's credentials changed (disabled and re-enabled, roles changed) since the token was issued. */
  | 'IDENTITY_TOKEN_REVOKED'
  /** A stored signing key does not match the private key the vault protects, or the vault lost it. */
  | 'IDENTITY_SIGNING_KEY_INVALID'
  /** The service CA has not been created yet. */
  | 'IDENTITY_CA_NOT_INITIALIZED'
  /** The stored service CA certificate does not match the private key the vault protects. */
  | 'IDENTITY_CA_INVALID'
  /** A service credential (JWK + x5c) was refused. */
  | 'IDENTITY_CERTIFICATE_INVALID'
  | 'IDENTITY_CERTIFICATE_NOT_FOUND'
  /** `realmctl client create`: a client with that name exists. */
  | 'IDENTITY_OAUTH_CLIENT_EXISTS'
  /** No OAuth client with that client_id (realmctl client list shows them). */
  | 'IDENTITY_OAUTH_CLIENT_NOT_FOUND'
  /** SAML login is off: identity.saml.idpMetadataFile is not set. */
  | 'IDENTITY_SAML_NOT_CONFIGURED'
  /** The IdP metadata file is unreadable, not an EntityDescriptor, or has a DOCTYPE, no SSO endpoint or no signing certificate. */
  | 'IDENTITY_SAML_METADATA_INVALID'
  /** The SAMLResponse is larger than the SP accepts. */
  | 'IDENTITY_SAML_TOO_LARGE'
  /** Not base64, not UTF-8, not XML, a DOCTYPE or comment, not exactly one Response with one Assertion. */
  | 'IDENTITY_SAML_MALFORMED'
  /** The Response or the Assertion is unsigned, signed by an untrusted key, tampered with, or wrapped. */
  | 'IDENTITY_SAML_SIGNATURE_INVALID'
  /** A signature or digest algorithm outside the allowed set (SHA-1 unless identity.saml.allowSha1). */
  | 'IDENTITY_SAML_WEAK_ALGORITHM'
  /** The assertion's Issuer is not the IdP's entityID. */
  | 'IDENTITY_SAML_ISSUER'
  /** The assertion's Audience is not our SP entity id. */
  | 'IDENTITY_SAML_AUDIENCE'
  /** The Response's Destination is not our ACS URL. */
  | 'IDENTITY_SAML_DESTINATION'
  /** The SubjectConfirmationData's Recipient is not our ACS URL. */
  | 'IDENTITY_SAML_RECIPIENT'
  /** NotOnOrAfter has passed (beyond the clock skew). */
  | 'IDENTITY_SAML_EXPIRED'
  /** NotBefore lies in the future (beyond the clock skew). */
  | 'IDENTITY_SAML_NOT_YET_VALID'
  /** InResponseTo names no request of ours that is pending: unknown, already used, or expired. */
  | 'IDENTITY_SAML_REPLAY'
  /** A response without InResponseTo (IdP-initiated) while identity.saml.allowIdpInitiated is off. */
  | 'IDENTITY_SAML_UNSOLICITED'
  /** The IdP answered with a non-success status (the user cancelled, or the IdP refused). */
  | 'IDENTITY_SAML_STATUS'
  /** The user's IdP groups grant no role of this appliance (identity.saml.roles.*). */
  | 'IDENTITY_SAML_NO_ROLE'
  /** returnTo / RelayState is not a same-origin absolute path (open redirect). */
  | 'IDENTITY_SAML_RELAY_STATE'
  /** The request needs a signed-in appliance session. */
  | 'IDENTITY_SESSION_REQUIRED'
  /** A state-changing request without the session's CSRF token, or from another origin. */
  | 'IDENTITY_SESSION_CSRF'
  /** SCIM: no SCIM bearer token, or one that is malformed, unknown or revoked (RFC 6750 §3.1 invalid_token). */
  | 'IDENTITY_SCIM_UNAUTHORIZED'
  /** SCIM: a filter outside the supported subset (RFC 7644 §3.12 invalidFilter). */
  | 'IDENTITY_SCIM_INVALID_FILTER'
  /** SCIM: a body that is not JSON, not an object, or has attributes the schema does not define (invalidSyntax). */
  | 'IDENTITY_SCIM_INVALID_SYNTAX'
  /** SCIM: an attribute of the wrong type, a missing required value, or an unknown member (invalidValue). */
  | 'IDENTITY_SCIM_INVALID_VALUE'
  /** SCIM: a PATCH path that names no supported attribute (invalidPath). */
  | 'IDENTITY_SCIM_INVALID_PATH'
  /** SCIM: a PATCH remove without a path, or a value filter that matches nothing (noTarget). */
  | 'IDENTITY_SCIM_NO_TARGET'
  /** SCIM: a change the attribute's mutability or the resource's state forbids (mutability). */
  | 'IDENTITY_SCIM_MUTABILITY'
  /** SCIM: a userName or group displayName that is already taken (uniqueness). */
  | 'IDENTITY_SCIM_UNIQUENESS'
  | 'IDENTITY_SCIM_NOT_FOUND'
  /** SCIM: the request body is larger than http.bodyLimitBytes. */
  | 'IDENTITY_SCIM_TOO_LARGE'
  /** SCIM: a body that is neither application/scim+json nor application/json. */
  | 'IDENTITY_SCIM_MEDIA_TYPE';

/**
 * An identity failure. Messages are safe to show a client and never contain a token, a key or a
 * certificate; the precise reason a credential was refused is kept in `cause`, which only reaches
 * the log (see {@link RealmError}).
 */
export class IdentityError extends RealmError<IdentityErrorCode> {
  override readonly name = 'IdentityError';
}

/** The refusal of a credential: the generic message for the client, the reason in `cause` for the log. */
export function refused(code: IdentityErrorCode, message: string, reason: string): IdentityError {
  return new IdentityError(code, message, { cause: new Error(reason) });
}

export function invalidArgument(message: string): IdentityError {
  return new IdentityError('IDENTITY_INVALID_ARGUMENT', message);
}
