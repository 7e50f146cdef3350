import type { AuditDetailValue, AuditEvent } from './audit-record.js';

export const REDACTED = '[redacted]';

// Field names that only ever hold secrets.
const SECRET_NAME = /(pin|password|passphrase|secret|token|bearer|credential|private.?key|jwk|cookie|authorization|session.?id)$/i;
// Values shaped like secrets, whatever the field: JWTs/JWS/JWE (RFC 7515/7516 compact form), PEM
// blocks, and runs of 40 or more base64url/hex characters (a 256-bit key is 43 in base64url, 64
// in hex). '/' is left out of the run so that URIs such as kms://domain/keys/<uuid> are kept.
const SECRET_VALUE = [/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\./, /-----BEGIN [A-Z ]+-----/, /[A-Za-z0-9+_=-]{40,}/];
const MAX_STRING = 512;

function cleanString(value: string): string {
  if (SECRET_VALUE.some((pattern) => pattern.test(value))) return REDACTED;
  return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
}

function cleanValue(name: string, value: AuditDetailValue): AuditDetailValue {
  if (SECRET_NAME.test(name)) return REDACTED;
  if (typeof value === 'string') return cleanString(value);
  if (Array.isArray(value)) return value.map((v) => cleanString(String(v)));
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

/**
 * A copy of `event` safe to write: secret-named fields and secret-shaped values are replaced by
 * `[redacted]`, long strings are cut. Audit records are exported and read by auditors; nothing in
 * them may unlock anything.
 */
export function redactEvent(event: AuditEvent): AuditEvent {
  const details = event.details
    ? Object.fromEntries(Object.entries(event.details).map(([k, v]) => [k, cleanValue(k, v)]))
    : undefined;
  return {
    action: cleanString(event.action).slice(0, 128),
    outcome: event.outcome,
    ...(event.actor && {
      actor: {
        type: event.actor.type,
        id: cleanString(event.actor.id),
        ...(event.actor.clientId !== undefined && { clientId: cleanString(event.actor.clientId) }),
      },
    }),
    ...(event.resources && { resources: event.resources.map(cleanString) }),
    ...(event.reason !== undefined && { reason: cleanString(event.reason) }),
    ...(event.requestId !== undefined && { requestId: cleanString(event.requestId) }),
    ...(details && { details }),
  };
}
