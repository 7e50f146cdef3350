import type { RealmConfig } from '@realm/config';
import { PRINCIPAL_ROLES, type PrincipalRole } from '../principals/principal.js';

/** The roles an IdP can grant; `org-agent` and `service` belong to services, never to SSO users. */
const SSO_ROLES = ['realm-admin', 'compliance-officer', 'auditor', 'user'] as const satisfies readonly PrincipalRole[];

/**
 * The roles of a user from their IdP groups (identity.saml.roles.*): a role is granted when one of
 * its configured groups is among the user's groups, or when its list is `*` (everyone the IdP
 * authenticates). Group names compare exactly: IdPs treat them as opaque strings.
 */
export function rolesFromGroups(groups: readonly string[], roleGroups: RealmConfig['identity']['saml']['roleGroups']): PrincipalRole[] {
  const member = new Set(groups);
  const granted = SSO_ROLES.filter((role) => roleGroups[role].some((group) => group === '*' || member.has(group)));
  return PRINCIPAL_ROLES.filter((role) => (granted as readonly string[]).includes(role));
}

/** The string values of a profile attribute (one value, several, or absent). */
export function attributeValues(value: unknown): string[] {
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return values.filter((v): v is string => typeof v === 'string').map((v) => v.trim()).filter((v) => v.length > 0);
}
