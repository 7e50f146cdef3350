import type { AuditEvent, AuditLog } from '@realm/audit';

/** Who asked for an identity change, and under which request, for the audit record. */
export interface IdentityAuditContext {
  /** The operator or principal acting; defaults to the system itself (`system:identity`). */
  readonly actor?: AuditEvent['actor'];
  readonly requestId?: string;
}

const SYSTEM_ACTOR = { type: 'system', id: 'identity' } as const;

/**
 * Records one identity event. Always awaited after the operation's transaction has committed and
 * before the operation reports success: an identity change that cannot be audited fails.
 */
export function recordIdentityEvent(audit: AuditLog, context: IdentityAuditContext | undefined, event: Omit<AuditEvent, 'actor' | 'requestId'> & { actor?: AuditEvent['actor'] }): Promise<void> {
  return audit.record({
    ...event,
    actor: event.actor ?? context?.actor ?? SYSTEM_ACTOR,
    ...(context?.requestId !== undefined && { requestId: context.requestId }),
  });
}
