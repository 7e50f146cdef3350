import { defineEntity } from '@realm/persistence';

/**
 * A browser session of the appliance's own pages. The session id itself is never stored: the
 * row is found by its SHA-256, so a copy of the database opens no session.
 */
export interface SessionRow {
  /** Lower-case hex SHA-256 of the session id the cookie carries. */
  idHash: string;
  principalId: string;
  /** The principal's credential epoch at login: disabling, deleting or re-roling the principal ends the session. */
  credentialEpoch: number;
  createdAt: Date;
  lastSeenAt: Date;
}

export const SessionEntity = defineEntity<SessionRow>({
  name: 'identity_sessions',
  columns: {
    idHash: { column: 'id_hash', type: 'string', length: 64, primary: true },
    principalId: { column: 'principal_id', type: 'string', length: 128 },
    credentialEpoch: { column: 'credential_epoch', type: 'int' },
    createdAt: { column: 'created_at', type: 'timestamp' },
    lastSeenAt: { column: 'last_seen_at', type: 'timestamp' },
  },
});
