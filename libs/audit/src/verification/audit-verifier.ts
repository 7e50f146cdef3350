import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { constantTimeEqual } from '@realm/crypto';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { actorColumn, type AuditEvent, chainHash, checkpointDigest, encodeCheckpointPayload, GENESIS_HASH } from '../audit-record.js';
import type { AuditCheckpointRow, AuditRecordRow, AuditSigningKeyRow } from '../audit.entities.js';
import { AuditRepository } from '../audit.repository.js';
import { checkpointKeyUri } from '../checkpoint-signer.js';

export type AuditProblemKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'checkpoint-invalid' | 'signing-key-invalid';

export interface AuditProblem {
  readonly kind: AuditProblemKind;
  /** 1-based position in the log (records in sequence order); 0 when the problem is not a record's. */
  readonly position: number;
  readonly message: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  /** Records after the last signed checkpoint: only the hash chain protects them. */
  readonly unsealed: number;
  readonly problem?: AuditProblem;
}

interface Parsed {
  readonly row: AuditRecordRow;
  readonly body: (AuditEvent & { seq: number; at: string; v: number }) | undefined;
}

const PAGE = 1000;

/**
 * Walks the whole chain and reports the first record that was edited, deleted, inserted or
 * reordered, by position. Hashes alone cannot stop someone who rewrites every later hash too; the
 * signed checkpoints can, and records after the last checkpoint are reported as unsealed.
 *
 * With a vault, each checkpoint public key is also checked against the private key the vault
 * protects, so a swapped public key (and checkpoints re-signed with an attacker's key) is caught.
 */
export class AuditVerifier {
  private readonly repository: AuditRepository;

  constructor(
    db: Database,
    private readonly vault?: KeyVault,
  ) {
    this.repository = new AuditRepository(db);
  }

  async verify(): Promise<AuditVerification> {
    const [checkpoints, keys] = await Promise.all([this.repository.checkpoints(), this.repository.signingKeys()]);
    const keyProblem = await this.checkKeys(keys);
    const fail = (records: number, problem: AuditProblem): AuditVerification => ({ ok: false, records, checkpoints: checkpoints.length, unsealed: 0, problem });
    if (keyProblem) return fail(0, keyProblem);
    const checkpointProblem = this.checkCheckpoints(checkpoints, keys);
    if (checkpointProblem) return fail(0, checkpointProblem);
    const sealedAt = new Map(checkpoints.map((c) => [c.recordSeq, c]));

    let position = 0;
    let previous: Parsed | undefined;
    let lastSealedPosition = 0;
    const cursor = new RecordCursor(this.repository);
    for (let current = await cursor.next(); current; current = await cursor.next()) {
      position += 1;
      const problem = classify(position, previous, current, await cursor.peek());
      if (problem) return fail(position, problem);
      const checkpoint = sealedAt.get(current.row.seq);
      if (checkpoint) {
        if (!constantTimeEqual(checkpoint.recordHash, current.row.hash)) {
          return fail(position, {
            kind: 'edited',
            position,
            message: `records between positions ${lastSealedPosition + 1} and ${position} were rewritten: the chain at position ${position} does not match signed checkpoint ${checkpoint.number}`,
          });
        }
        lastSealedPosition = position;
        sealedAt.delete(current.row.seq);
      }
      previous = current;
    }
    const lastCheckpoint = checkpoints[checkpoints.length - 1];
    if (lastCheckpoint && lastCheckpoint.recordSeq > (previous?.body?.seq ?? 0)) {
      return fail(position, {
        kind: 'truncated',
        position: position + 1,
        message: `records from position ${position + 1} on were deleted: signed checkpoint ${lastCheckpoint.number} covers ${lastCheckpoint.recordSeq} records, the log holds ${position}`,
      });
    }
    if (sealedAt.size > 0) {
      const [seq, checkpoint] = sealedAt.entries().next().value!;
      return fail(position, { kind: 'deleted', position: 0, message: `signed checkpoint ${checkpoint.number} covers record ${seq}, which is not in the log` });
    }
    return { ok: true, records: position, checkpoints: checkpoints.length, unsealed: position - lastSealedPosition };
  }

  private async checkKeys(keys: AuditSigningKeyRow[]): Promise<AuditProblem | undefined> {
    if (!this.vault) return undefined;
    for (const key of keys) {
      const der = await this.vault.getKey(checkpointKeyUri(key.keyId)).catch(() => undefined);
      if (!der) return { kind: 'signing-key-invalid', position: 0, message: `the vault holds no private key for checkpoint key ${key.keyId}` };
      const derived = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
      der.fill(0);
      if (!derived.equals(key.publicKey)) {
        return { kind: 'signing-key-invalid', position: 0, message: `the stored public key of checkpoint key ${key.keyId} is not the one whose private key the vault protects` };
      }
    }
    return undefined;
  }

  private checkCheckpoints(checkpoints: AuditCheckpointRow[], keys: AuditSigningKeyRow[]): AuditProblem | undefined {
    const publicKeys = new Map(keys.map((k) => [k.keyId, createPublicKey({ key: k.publicKey, format: 'der', type: 'spki' })]));
    let prev: Buffer = GENESIS_HASH;
    let previousSeq = 0;
    for (const [index, c] of checkpoints.entries()) {
      const expectedNumber = index + 1;
      const bad = (message: string): AuditProblem => ({ kind: 'checkpoint-invalid', position: 0, message: `checkpoint ${c.number}: ${message}` });
      if (c.number !== expectedNumber) return bad(`expected checkpoint number ${expectedNumber}: a checkpoint was deleted or inserted`);
      const key = publicKeys.get(c.keyId);
      if (!key) return bad(`signed by unknown key ${c.keyId}`);
      const payload = encodeCheckpointPayload({ number: c.number, seq: c.recordSeq, hash: c.recordHash, at: c.signedAt, keyId: c.keyId, prev });
      if (payload !== c.payload || !verify(null, Buffer.from(payload, 'utf8'), key, c.signature)) return bad('the signature does not verify (checkpoint altered or forged)');
      if (c.recordSeq < previousSeq) return bad('covers fewer records than the checkpoint before it');
      prev = checkpointDigest(c.payload, c.signature);
      previousSeq = c.recordSeq;
    }
    return undefined;
  }
}

/** Reads records page by page with one record of look-ahead. */
class RecordCursor {
  private buffer: Parsed[] = [];
  private lastSeq = 0;
  private exhausted = false;

  constructor(private readonly repository: AuditRepository) {}

  async next(): Promise<Parsed | undefined> {
    await this.fill();
    return this.buffer.shift();
  }

  async peek(): Promise<Parsed | undefined> {
    await this.fill();
    return this.buffer[0];
  }

  private async fill(): Promise<void> {
    if (this.buffer.length > 0 || this.exhausted) return;
    const rows = await this.repository.recordsAfter(this.lastSeq, PAGE);
    if (rows.length < PAGE) this.exhausted = true;
    if (rows.length > 0) this.lastSeq = rows[rows.length - 1]!.seq;
    this.buffer = rows.map((row) => ({ row, body: parseBody(row.body) }));
  }
}

function parseBody(body: string): Parsed['body'] {
  try {
    const parsed = JSON.parse(body) as Parsed['body'];
    return parsed && typeof parsed === 'object' && typeof parsed.seq === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The first thing wrong with `current` at `position`, given its neighbours. */
function classify(position: number, previous: Parsed | undefined, current: Parsed, next: Parsed | undefined): AuditProblem | undefined {
  const expectedPrev = previous?.row.hash ?? GENESIS_HASH;
  const expectedSeq = (previous?.body?.seq ?? 0) + 1;
  const { row, body } = current;
  const problem = (kind: AuditProblemKind, what: string): AuditProblem => ({ kind, position, message: `record at position ${position}: ${what}` });

  const selfConsistent = body !== undefined && constantTimeEqual(chainHash(row.prevHash, row.body), row.hash);
  if (!selfConsistent) {
    // The chain skips this record entirely: it was slipped in between two genuine ones.
    if (next && constantTimeEqual(next.row.prevHash, expectedPrev) && next.body?.seq === expectedSeq) return problem('inserted', 'was inserted: the next record links to the one before it');
    return problem('edited', 'was edited: its contents do not match its hash');
  }
  const columnsAgree =
    row.seq === body.seq &&
    row.action === body.action &&
    row.outcome === body.outcome &&
    row.actor === actorColumn(body) &&
    row.recordedAt.toISOString() === body.at;
  const linked = constantTimeEqual(row.prevHash, expectedPrev);
  if (linked && body.seq === expectedSeq) {
    return columnsAgree ? undefined : problem('edited', 'was edited: its columns do not match its hashed contents');
  }
  if (body.seq > expectedSeq) {
    if (next?.body?.seq === expectedSeq) return problem('reordered', `holds record ${body.seq}, which was written after record ${expectedSeq} (found next)`);
    const missing = body.seq - expectedSeq;
    return problem('deleted', `${missing === 1 ? `record ${expectedSeq} is` : `records ${expectedSeq} to ${body.seq - 1} are`} missing before it`);
  }
  if (body.seq < expectedSeq) {
    if (previous && constantTimeEqual(row.prevHash, previous.row.prevHash)) {
      return { kind: 'inserted', position: position - 1, message: `record at position ${position - 1}: was inserted: the record after it links past it` };
    }
    return problem('reordered', `holds record ${body.seq}, which was written before the record at position ${position - 1}`);
  }
  return { kind: 'edited', position: position - 1, message: `record at position ${position - 1}: was replaced: the next record does not link to it` };
}
