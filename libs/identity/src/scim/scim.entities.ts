import { defineEntity } from '@realm/persistence';

/**
 * A bearer credential of a SCIM client (the enterprise IdP's provisioning agent). Only the SHA-256
 * of the whole token is stored: the token itself is printed once, at creation.
 */
export interface ScimTokenRow {
  /** 32 lower-case hex digits; also the second part of the token, so it is found without the secret. */
  id: string;
  name: string;
  /** Lower-case hex SHA-256 of the token's UTF-8 bytes. */
  hashSha256: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/**
 * What SCIM knows of a user beyond the principal (RFC 7643 §4.1): the principal holds userName,
 * the email and the status; this row the attributes only SCIM uses.
 */
export interface ScimUserRow {
  principalId: string;
  externalId: string | null;
  displayName: string | null;
  /** RFC 7643 §4.1.1 `name` sub-attributes, or null. */
  name: Record<string, string> | null;
  /** The `type` of the one email kept (`work`, `home`...), or null. */
  emailType: string | null;
  /**
   * The principal's credential epoch right after SCIM deactivated it, or null. SCIM may re-activate
   * a user only while the epoch is still that one: a user an administrator disabled (which bumps
   * the epoch) stays disabled whatever the IdP says.
   */
  deactivatedAtEpoch: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A SCIM group (RFC 7643 §4.2); its displayName is what identity.saml.roles.* name. */
export interface ScimGroupRow {
  /** A UUID. */
  id: string;
  displayName: string;
  externalId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScimGroupMemberRow {
  groupId: string;
  principalId: string;
}

export const ScimTokenEntity = defineEntity<ScimTokenRow>({
  name: 'identity_scim_tokens',
  columns: {
    id: { column: 'id', type: 'string', length: 32, primary: true },
    name: { column: 'name', type: 'string', length: 128 },
    hashSha256: { column: 'hash_sha256', type: 'string', length: 64 },
    createdAt: { column: 'created_at', type: 'timestamp' },
    revokedAt: { column: 'revoked_at', type: 'timestamp', nullable: true },
  },
});

export const ScimUserEntity = defineEntity<ScimUserRow>({
  name: 'identity_scim_users',
  columns: {
    principalId: { column: 'principal_id', type: 'string', length: 128, primary: true },
    externalId: { column: 'external_id', type: 'string', length: 256, nullable: true },
    displayName: { column: 'display_name', type: 'string', length: 256, nullable: true },
    name: { column: 'name', type: 'json', nullable: true },
    emailType: { column: 'email_type', type: 'string', length: 64, nullable: true },
    deactivatedAtEpoch: { column: 'deactivated_at_epoch', type: 'int', nullable: true },
    createdAt: { column: 'created_at', type: 'timestamp' },
    updatedAt: { column: 'updated_at', type: 'timestamp' },
  },
});

export const ScimGroupEntity = defineEntity<ScimGroupRow>({
  name: 'identity_scim_groups',
  columns: {
    id: { column: 'id', type: 'string', length: 36, primary: true },
    displayName: { column: 'display_name', type: 'string', length: 256 },
    externalId: { column: 'external_id', type: 'string', length: 256, nullable: true },
    createdAt: { column: 'created_at', type: 'timestamp' },
    updatedAt: { column: 'updated_at', type: 'timestamp' },
  },
});

export const ScimGroupMemberEntity = defineEntity<ScimGroupMemberRow>({
  name: 'identity_scim_group_members',
  columns: {
    groupId: { column: 'group_id', type: 'string', length: 36, primary: true },
    principalId: { column: 'principal_id', type: 'string', length: 128, primary: true },
  },
});

export const SCIM_ENTITIES = [ScimTokenEntity, ScimUserEntity, ScimGroupEntity, ScimGroupMemberEntity];
