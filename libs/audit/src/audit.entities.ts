import { defineEntity } from '@realm/persistence';

/**
 * One audit record. `body` is the canonical JSON (RFC 8785) of the record exactly as hashed;
 * the other columns repeat some of its fields for queries, and verification checks they agree.
 */
export interface AuditRecordRow {
  seq: number;
  recordedAt: Date;
  action: string;
  outcome: string;
  actor: string | null;
  body: string;
  prevHash: Buffer;
  hash: Buffer;
}

/** The single row that serialises appenders across processes (locked FOR UPDATE on PostgreSQL). */
export interface AuditHeadRow {
  id: number;
  seq: number;
  hash: Buffer;
  checkpointNumber: number;
  checkpointSeq: number;
  checkpointAt: Date | null;
  checkpointDigest: Buffer;
}

/** A signed statement "the chain up to `recordSeq` ends in `recordHash`". */
export interface AuditCheckpointRow {
  number: number;
  recordSeq: number;
  recordHash: Buffer;
  signedAt: Date;
  keyId: string;
  payload: string;
  signature: Buffer;
}

export interface AuditSigningKeyRow {
  keyId: string;
  algorithm: string;
  publicKey: Buffer;
  createdAt: Date;
}

export const AuditRecordEntity = defineEntity<AuditRecordRow>({
  name: 'audit_records',
  columns: {
    seq: { column: 'seq', type: 'bigint', primary: true },
    recordedAt: { column: 'recorded_at', type: 'timestamp' },
    action: { column: 'action', type: 'string', length: 128 },
    outcome: { column: 'outcome', type: 'string', length: 16 },
    actor: { column: 'actor', type: 'string', length: 256, nullable: true },
    body: { column: 'body', type: 'text' },
    prevHash: { column: 'prev_hash', type: 'binary' },
    hash: { column: 'hash', type: 'binary' },
  },
});

export const AuditHeadEntity = defineEntity<AuditHeadRow>({
  name: 'audit_head',
  columns: {
    id: { column: 'id', type: 'int', primary: true },
    seq: { column: 'seq', type: 'bigint' },
    hash: { column: 'hash', type: 'binary' },
    checkpointNumber: { column: 'checkpoint_number', type: 'bigint' },
    checkpointSeq: { column: 'checkpoint_seq', type: 'bigint' },
    checkpointAt: { column: 'checkpoint_at', type: 'timestamp', nullable: true },
    checkpointDigest: { column: 'checkpoint_digest', type: 'binary' },
  },
});

export const AuditCheckpointEntity = defineEntity<AuditCheckpointRow>({
  name: 'audit_checkpoints',
  columns: {
    number: { column: 'number', type: 'bigint', primary: true },
    recordSeq: { column: 'record_seq', type: 'bigint' },
    recordHash: { column: 'record_hash', type: 'binary' },
    signedAt: { column: 'signed_at', type: 'timestamp' },
    keyId: { column: 'key_id', type: 'string', length: 64 },
    payload: { column: 'payload', type: 'text' },
    signature: { column: 'signature', type: 'binary' },
  },
});

export const AuditSigningKeyEntity = defineEntity<AuditSigningKeyRow>({
  name: 'audit_signing_keys',
  columns: {
    keyId: { column: 'key_id', type: 'string', length: 64, primary: true },
    algorithm: { column: 'algorithm', type: 'string', length: 16 },
    publicKey: { column: 'public_key', type: 'binary' },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const AUDIT_ENTITIES = [AuditRecordEntity, AuditHeadEntity, AuditCheckpointEntity, AuditSigningKeyEntity];
