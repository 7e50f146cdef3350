/** Schema URNs and the discovery documents (RFC 7643 §5–§7, RFC 7644 §4). */
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** Accepted in `schemas` and ignored: IdPs (Entra ID) send it by default; nothing of it is stored. */
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SERVICE_PROVIDER_CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

/** RFC 7644 §8.1: the media type of every SCIM body; application/json is accepted too. */
export const SCIM_MEDIA_TYPE = 'application/scim+json';

/** Largest page of a list (RFC 7644 §3.4.2.4 count) and the default one. */
export const MAX_PAGE_SIZE = 200;
/** Most operations in one PATCH request. */
export const MAX_PATCH_OPERATIONS = 100;
/** Most members one group may have, and most emails one user may send. */
export const MAX_GROUP_MEMBERS = 10_000;
export const MAX_EMAILS = 20;

export function serviceProviderConfig(baseUrl: string, maxPayloadSize: number): object {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri: 'https://www.rfc-editor.org/rfc/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'SCIM bearer token',
        description: 'A token made with `realmctl scim token create`, sent as Authorization: Bearer (RFC 6750). KMS access tokens are not accepted.',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypes(baseUrl: string): object[] {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'A user of the realm (a principal user:<uuid>)',
      schema: USER_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'A group of users; its displayName grants roles through identity.saml.roles.*',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

type Attribute = Record<string, unknown>;

function attribute(name: string, options: Partial<{ type: string; multiValued: boolean; required: boolean; caseExact: boolean; mutability: string; returned: string; uniqueness: string; description: string; subAttributes: Attribute[]; referenceTypes: string[] }> = {}): Attribute {
  return {
    name,
    type: options.type ?? 'string',
    multiValued: options.multiValued ?? false,
    description: options.description ?? '',
    required: options.required ?? false,
    ...(options.type === 'complex' ? { subAttributes: options.subAttributes ?? [] } : { caseExact: options.caseExact ?? false }),
    ...(options.referenceTypes && { referenceTypes: options.referenceTypes }),
    mutability: options.mutability ?? 'readWrite',
    returned: options.returned ?? 'default',
    uniqueness: options.uniqueness ?? 'none',
  };
}

/** The attributes this service provider stores: the subset of RFC 7643 §8.7.1 it supports. */
export function schemas(baseUrl: string): object[] {
  const nameParts = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'];
  return [
    {
      schemas: [SCHEMA_SCHEMA],
      id: USER_SCHEMA,
      name: 'User',
      description: 'User Account',
      attributes: [
        attribute('userName', { required: true, uniqueness: 'server', description: 'Unique identifier of the user; compared case-insensitively and stored lower-cased' }),
        attribute('name', { type: 'complex', subAttributes: nameParts.map((n) => attribute(n)) }),
        attribute('displayName'),
        attribute('emails', {
          type: 'complex',
          multiValued: true,
          description: 'One address is kept: the primary one, or the first',
          subAttributes: [attribute('value'), attribute('type'), attribute('primary', { type: 'boolean' })],
        }),
        attribute('active', { type: 'boolean', description: 'false disables the user: the KMS refuses their next request and their refresh tokens stop working' }),
        attribute('groups', {
          type: 'complex',
          multiValued: true,
          mutability: 'readOnly',
          subAttributes: [attribute('value', { mutability: 'readOnly' }), attribute('display', { mutability: 'readOnly' }), attribute('$ref', { type: 'reference', referenceTypes: ['Group'], mutability: 'readOnly' })],
        }),
      ],
      meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${USER_SCHEMA}` },
    },
    {
      schemas: [SCHEMA_SCHEMA],
      id: GROUP_SCHEMA,
      name: 'Group',
      description: 'Group',
      attributes: [
        attribute('displayName', { required: true, uniqueness: 'server', caseExact: true }),
        attribute('members', {
          type: 'complex',
          multiValued: true,
          subAttributes: [
            attribute('value', { mutability: 'immutable' }),
            attribute('display', { mutability: 'readOnly' }),
            attribute('type', { mutability: 'immutable', description: 'User (nested groups are not supported)' }),
            attribute('$ref', { type: 'reference', referenceTypes: ['User'], mutability: 'immutable' }),
          ],
        }),
      ],
      meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${GROUP_SCHEMA}` },
    },
  ];
}
