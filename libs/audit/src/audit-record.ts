import { hash } from 'node:crypto';
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

/**
 * The body that is hashed and stored: the RFC 8785 canonical JSON of
 * `{ v, seq, at, action, outcome, actor?: { type, id, clientId? }, resources?, reason?, requestId?, details? }`.
 * Its encoding must never change for version 1 records.
 *
 * Written member by member in the RFC's order (names sorted by UTF-16 code units), each value
 * encoded by canonicalJson with its checks, rather than by building that object and sorting it:
 * this runs for every audited KMS message, inside the write lock. The tests hold it byte for byte
 * to canonicalJson of the whole object.
 *
 * `recordedAtIso` must be `recordedAt.toISOString()`: a caller encoding a batch of records with one
 * timestamp formats it once and passes it; anyone else leaves it out.
 */
export function encodeRecordBody(seq: number, recordedAt: Date, event: AuditEvent, recordedAtIso = recordedAt.toISOString()): string {
  let body = `{"action":${canonicalJson(event.action)}`;
  if (event.actor !== undefined) {
    const { type, id, clientId } = event.actor;
    body += `,"actor":{${clientId !== undefined ? `"clientId":${canonicalJson(clientId)},` : ''}"id":${canonicalJson(id)},"type":${canonicalJson(type)}}`;
  }
  body += `,"at":${canonicalJson(recordedAtIso)}`;
  if (event.details !== undefined) body += `,"details":${canonicalJson({ ...event.details })}`;
  body += `,"outcome":${canonicalJson(event.outcome)}`;
  if (event.reason !== undefined) body += `,"reason":${canonicalJson(event.reason)}`;
  if (event.requestId !== undefined) body += `,"requestId":${canonicalJson(event.requestId)}`;
  if (event.resources !== undefined) body += `,"resources":${canonicalJson([...event.resources])}`;
  return `${body},"seq":${canonicalJson(seq)},"v":${RECORD_FORMAT_VERSION}}`;
}

/**
 * hash_n = SHA-256(hash_{n-1} || UTF-8(body_n)). One-shot `hash()`: a Hash object per record
 * would leave a native handle per record for the garbage collector.
 */
export function chainHash(prevHash: Buffer, body: string): Buffer {
  return hash('sha256', Buffer.concat([prevHash, Buffer.from(body, 'utf8')]), 'buffer');
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
