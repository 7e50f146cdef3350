import { IdentityError, type IdentityErrorCode } from '../identity.error.js';

/** RFC 7644 §3.12 error schema. */
export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 §3.12 Table 9 detail error keyword. */
export type ScimType = 'invalidFilter' | 'tooMany' | 'uniqueness' | 'mutability' | 'invalidSyntax' | 'invalidPath' | 'noTarget' | 'invalidValue' | 'invalidVers' | 'sensitive';

export interface ScimErrorAnswer {
  readonly status: number;
  readonly scimType?: ScimType;
  readonly detail: string;
}

export const scimInvalidSyntax = (detail: string) => new IdentityError('IDENTITY_SCIM_INVALID_SYNTAX', detail);
export const scimInvalidValue = (detail: string) => new IdentityError('IDENTITY_SCIM_INVALID_VALUE', detail);
export const scimInvalidFilter = (detail: string) => new IdentityError('IDENTITY_SCIM_INVALID_FILTER', detail);
export const scimInvalidPath = (detail: string) => new IdentityError('IDENTITY_SCIM_INVALID_PATH', detail);
export const scimNoTarget = (detail: string) => new IdentityError('IDENTITY_SCIM_NO_TARGET', detail);
export const scimMutability = (detail: string) => new IdentityError('IDENTITY_SCIM_MUTABILITY', detail);
export const scimUniqueness = (detail: string) => new IdentityError('IDENTITY_SCIM_UNIQUENESS', detail);
export const scimNotFound = (detail: string) => new IdentityError('IDENTITY_SCIM_NOT_FOUND', detail);

/**
 * The SCIM answer (status, scimType) of an identity error raised while serving SCIM, or undefined
 * for a server-side failure (answered 500 or 503 with a generic detail). Exhaustive: a new
 * identity code must be placed here too.
 */
export function scimAnswerOf(code: IdentityErrorCode, message: string): ScimErrorAnswer | undefined {
  switch (code) {
    case 'IDENTITY_SCIM_UNAUTHORIZED':
      return { status: 401, detail: message };
    case 'IDENTITY_SCIM_INVALID_FILTER':
      return { status: 400, scimType: 'invalidFilter', detail: message };
    case 'IDENTITY_SCIM_INVALID_SYNTAX':
      return { status: 400, scimType: 'invalidSyntax', detail: message };
    case 'IDENTITY_SCIM_INVALID_VALUE':
    case 'IDENTITY_INVALID_ARGUMENT':
      return { status: 400, scimType: 'invalidValue', detail: message };
    case 'IDENTITY_SCIM_INVALID_PATH':
      return { status: 400, scimType: 'invalidPath', detail: message };
    case 'IDENTITY_SCIM_NO_TARGET':
      return { status: 400, scimType: 'noTarget', detail: message };
    case 'IDENTITY_SCIM_MUTABILITY':
    case 'IDENTITY_PRINCIPAL_DELETED':
      return { status: 400, scimType: 'mutability', detail: message };
    case 'IDENTITY_SCIM_UNIQUENESS':
    case 'IDENTITY_PRINCIPAL_EXISTS':
      return { status: 409, scimType: 'uniqueness', detail: message };
    case 'IDENTITY_SCIM_NOT_FOUND':
    case 'IDENTITY_PRINCIPAL_NOT_FOUND':
      return { status: 404, detail: message };
    case 'IDENTITY_SCIM_TOO_LARGE':
      return { status: 413, detail: message };
    case 'IDENTITY_SCIM_MEDIA_TYPE':
      return { status: 415, detail: message };
    // Every other identity code (tokens, certificates, SAML, sessions) reaching SCIM is a failure
    // of ours, not the client's: 500 with a generic detail.
    default:
      return undefined;
  }
}
