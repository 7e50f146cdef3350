import type { PrincipalKind, PrincipalStatus } from '../identity.entities.js';
import { invalidArgument } from '../identity.error.js';

/**
 * The roles the realm knows. `org-agent` is a service allowed to act onBehalfOf users in the KMS;
 * `service` marks bots and the indexer.
 */
export const PRINCIPAL_ROLES = ['realm-admin', 'compliance-officer', 'auditor', 'user', 'org-agent', 'service'] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** A user or a service as the rest of the realm sees it (a snapshot; changes go through PrincipalService). */
export interface Principal {
  /** `user:<uuid>` or `service:<name>`: the KMS userId / authId. */
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly name: string;
  readonly email: string | null;
  readonly status: PrincipalStatus;
  readonly roles: readonly PrincipalRole[];
  readonly credentialEpoch: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type { PrincipalKind, PrincipalStatus };

const ROLE_SET: ReadonlySet<string> = new Set(PRINCIPAL_ROLES);
// Service names end up in `service:<name>` ids and `urn:realm:service:<name>` URIs (RFC 8141 NSS
// characters), so they are kept to a DNS-label-like alphabet.
const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
// No control characters, no whitespace at either end; anything else a directory may use.
const USER_NAME = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,254}[^\s\p{Cc}])?$/u;
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]{1,255}$/u;

export function userPrincipalId(uuid: string): string {
  return `user:${uuid}`;
}

export function servicePrincipalId(name: string): string {
  return `service:${name}`;
}

/** The URI a service certificate names its principal by (RFC 5280 §4.2.1.6 uniformResourceIdentifier). */
export function serviceUri(name: string): string {
  return `urn:realm:service:${name}`;
}

/**
 * User names compare case-insensitively (SCIM, RFC 7643 §4.1.1: userName has caseExact false), so
 * `Alice` and `alice` can never be two different people: they are stored NFC-normalised and
 * lower-cased.
 */
export function normalizeUserName(userName: unknown): string {
  if (typeof userName !== 'string') throw invalidArgument('a userName must be a string');
  const normalized = userName.normalize('NFC').toLowerCase();
  if (!USER_NAME.test(normalized)) throw invalidArgument('a userName must be 1 to 256 characters, without control characters or surrounding whitespace');
  return normalized;
}

export function checkServiceName(name: unknown): string {
  if (typeof name !== 'string' || !SERVICE_NAME.test(name)) {
    throw invalidArgument('a service name must be 1 to 64 characters of a-z, 0-9, ".", "_" and "-", starting and ending with a letter or digit');
  }
  return name;
}

export function normalizeEmail(email: unknown): string | null {
  if (email === undefined || email === null) return null;
  if (typeof email !== 'string' || email.length > 320 || !EMAIL.test(email)) throw invalidArgument('an email must look like local@domain');
  return email.normalize('NFC');
}

/** Known roles only, without duplicates, in a stable order (so equality of role sets is equality of arrays). */
export function normalizeRoles(roles: unknown): PrincipalRole[] {
  if (!Array.isArray(roles)) throw invalidArgument('roles must be an array of role names');
  for (const role of roles) {
    if (typeof role !== 'string' || !ROLE_SET.has(role)) throw invalidArgument(`unknown role ${JSON.stringify(String(role)).slice(0, 80)}: known roles are ${PRINCIPAL_ROLES.join(', ')}`);
  }
  return PRINCIPAL_ROLES.filter((role) => roles.includes(role));
}

export function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((role, i) => role === b[i]);
}
