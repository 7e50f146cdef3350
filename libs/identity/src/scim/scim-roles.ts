import type { RealmConfig } from '@realm/config';
import { normalizeRoles, type PrincipalRole } from '../principals/principal.js';
import { rolesFromGroups } from '../saml/role-mapping.js';

/** identity.saml.roles.*: role → the IdP groups granting it. */
export type ScimRoleGroups = RealmConfig['identity']['saml']['roleGroups'];

/** Roles no group grants (services' roles): SCIM leaves them as they are. */
const NON_GROUP_ROLES: readonly PrincipalRole[] = ['org-agent', 'service'];

/**
 * A user's roles once their SCIM groups are `groupNames`: the mapping of SAML login
 * ({@link rolesFromGroups}: identity.saml.roles.*, `*` for everyone, names compared exactly), plus
 * whichever roles outside that mapping the user already has.
 */
export function rolesOfScimGroups(roleGroups: ScimRoleGroups, groupNames: readonly string[], currentRoles: readonly PrincipalRole[]): PrincipalRole[] {
  return normalizeRoles([...rolesFromGroups(groupNames, roleGroups), ...currentRoles.filter((role) => NON_GROUP_ROLES.includes(role))]);
}
