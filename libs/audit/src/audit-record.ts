import { canonicalJson, sha256 } from '@realm/crypto';

export type AuditOutcome = 'success' | 'denied' | 'failure';
export type AuditActorType = 'user' | 'service' | 'operator' | 'system';
export type AuditDetailValue = string | number | boolean | null | readonly string[];

/**
 * What a security-relevant operation reports. There is deliberately no field for key material,
 * tokens or PINs; values that look like them are redacted before the record is written.
 */
export interface AuditEvent {
  /** Dotted verb, e.g. `vault.master.rotate`, `kms.key.retrieve`. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly actor?: { readonly type: AuditActorType; readonly id: string; readonly clientId?: string };
  /** URIs of what the operation touched (keys, resources, authorizations). */
  readonly resources?: readonly string[];
  /** Why a request was denied or failed. */
  readonly reason?: string;
  readonly requestId?: string;
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
}

/** Hash of the record before the first: 32 zero bytes. */
export const GENESIS_HASH = Buffer.alloc(32);
export const RECORD_FORMAT_VERSION = 1;

/** The body that is hashed and stored. Its encoding must never change for version 1 records. */
export function encodeRecordBody(seq: number, recordedAt: Date, event: AuditEvent): string {
  return canonicalJson({
    v: RECORD_FORMAT_VERSION,
    seq,
    at: recordedAt.toISOString(),
    action: event.action,
    outcome: event.outcome,
    ...(event.actor !== undefined && { actor: { type: event.actor.type, id: event.actor.id, ...(event.actor.clientId !== undefined && { clientId: event.actor.clientId }) } }),
    ...(event.resources !== undefined && { resources: [...event.resources] }),
    ...(event.reason !== undefined && { reason: event.reason }),
    ...(event.requestId !== undefined && { requestId: event.requestId }),
    ...(event.details !== undefined && { details: { ...event.details } }),
  });
}

/** hash_n = SHA-256(hash_{n-1} || UTF-8(body_n)). */
export function chainHash(prevHash: Buffer, body: string): Buffer {
  return sha256(Buffer.concat([prevHash, Buffer.from(body, 'utf8')]));
}

/** `type:id` as stored in the actor column. */
export function actorColumn(event: Pick<AuditEvent, 'actor'>): string | null {
  return event.actor ? `${event.actor.type}:${event.actor.id}`.slice(0, 256) : null;
}

export interface CheckpointStatement {
  readonly number: number;
  readonly seq: number;
  readonly hash: Buffer;
  readonly at: Date;
  readonly keyId: string;
  /** Digest of the previous checkpoint (payload and signature), chaining checkpoints together. */
  readonly prev: Buffer;
}

/** The canonical payload an Ed25519 checkpoint signature covers. */
export function encodeCheckpointPayload(c: CheckpointStatement): string {
  return canonicalJson({ v: 1, checkpoint: c.number, seq: c.seq, hash: c.hash.toString('hex'), at: c.at.toISOString(), keyId: c.keyId, prev: c.prev.toString('hex') });
}

export function checkpointDigest(payload: string, signature: Buffer): Buffer {
  return sha256(Buffer.concat([Buffer.from(payload, 'utf8'), signature]));
}
