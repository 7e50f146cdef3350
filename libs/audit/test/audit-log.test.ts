/**
 * The audit log on every database: appends form one chain; editing, deleting, inserting or
 * reordering any record is caught and reported by position; rewriting the chain is caught by the
 * signed checkpoints; nothing secret is written; two processes appending at once keep one chain.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { portableSql, testDatabases, type TestDatabase } from '@realm/testing';
import { type AuditProblemKind, AuditVerifier, chainHash, encodeRecordBody, REDACTED } from '../src/index.js';
import { type AuditFixture, openAudit } from './helpers.js';

const run = promisify(execFile);
const writer = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'audit-writer.js');

async function withLog(database: TestDatabase, records: number, checkpointEvery: number, work: (fx: AuditFixture, sql: (text: string, params?: unknown[]) => Promise<unknown>) => Promise<void>) {
  const created = await database.create();
  const fx = await openAudit(created.env, { checkpointEvery, checkpointIntervalSeconds: 3600 });
  try {
    // One at a time, so that checkpoints fall every `checkpointEvery` records (group commit would
    // otherwise put concurrent records in one batch under one checkpoint).
    for (let i = 0; i < records; i++) await fx.log.record({ action: 'test.append', outcome: 'success', actor: { type: 'user', id: `user-${i % 3}` }, details: { i } });
    await work(fx, (text, params = []) => fx.db.query(portableSql(fx.db.driver, text), params));
  } finally {
    await fx.close().catch(() => undefined);
    await created.drop();
  }
}

/** A timestamp as the driver stores it: TypeORM keeps SQLite datetimes as UTC text. */
function sqlTime(fx: AuditFixture, at: Date): Date | string {
  return fx.db.driver === 'postgres' ? at : at.toISOString().replace('T', ' ').replace('Z', '');
}

async function expectProblem(fx: AuditFixture, kind: AuditProblemKind, position: number, pattern?: RegExp) {
  const report = await new AuditVerifier(fx.db, fx.vault).verify();
  assert.equal(report.ok, false, 'tampering must be detected');
  assert.equal(report.problem?.kind, kind, report.problem?.message);
  assert.equal(report.problem?.position, position, report.problem?.message);
  if (pattern) assert.match(report.problem!.message, pattern);
}

for (const database of testDatabases()) {
  describe(`audit log on ${database.name}`, () => {
    it('appends one hash chain with signed checkpoints, and verifies', async () => {
      await withLog(database, 25, 10, async (fx, sql) => {
        await fx.log.checkpoint();
        const report = await new AuditVerifier(fx.db, fx.vault).verify();
        assert.deepEqual(report, { ok: true, records: 25, checkpoints: (await sql('SELECT number FROM audit_checkpoints') as unknown[]).length, unsealed: 0 });
        assert.ok(report.checkpoints >= 3);
        const rows = (await sql('SELECT seq, body, prev_hash, hash FROM audit_records ORDER BY seq')) as { seq: number | string; body: string; prev_hash: Buffer; hash: Buffer }[];
        for (const [i, row] of rows.entries()) {
          assert.equal(Number(row.seq), i + 1);
          assert.deepEqual(chainHash(row.prev_hash, row.body), row.hash);
          if (i > 0) assert.deepEqual(row.prev_hash, rows[i - 1]!.hash);
        }
      });
    });

    it('catches an edited record body, by position', async () => {
      await withLog(database, 12, 1000, async (fx, sql) => {
        await sql("UPDATE audit_records SET body = REPLACE(body, '\"i\":4', '\"i\":40') WHERE seq = 5");
        await expectProblem(fx, 'edited', 5, /record at position 5: was edited/);
      });
    });

    it('catches an edited column whose hashed body was left alone', async () => {
      await withLog(database, 12, 1000, async (fx, sql) => {
        await sql("UPDATE audit_records SET outcome = 'denied' WHERE seq = 7");
        await expectProblem(fx, 'edited', 7, /columns do not match/);
      });
    });

    it('catches a deleted record, by position', async () => {
      await withLog(database, 12, 1000, async (fx, sql) => {
        await sql('DELETE FROM audit_records WHERE seq = 5');
        await expectProblem(fx, 'deleted', 5, /record 5 is missing/);
      });
    });

    it('catches two records swapped, by position', async () => {
      await withLog(database, 12, 1000, async (fx, sql) => {
        await sql('UPDATE audit_records SET seq = 1000 WHERE seq = 5');
        await sql('UPDATE audit_records SET seq = 5 WHERE seq = 6');
        await sql('UPDATE audit_records SET seq = 6 WHERE seq = 1000');
        await expectProblem(fx, 'reordered', 5, /holds record 6/);
      });
    });

    it('catches a record inserted with a correctly computed hash, by position', async () => {
      await withLog(database, 12, 1000, async (fx, sql) => {
        const [fourth] = (await sql('SELECT hash, recorded_at FROM audit_records WHERE seq = 4')) as { hash: Buffer }[];
        await sql('UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 5');
        await sql('UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000');
        const at = new Date(Date.UTC(2026, 10, 22, 12, 0, 0, 123));
        const body = encodeRecordBody(5, at, { action: 'test.append', outcome: 'success', actor: { type: 'user', id: 'mallory' } });
        await sql('INSERT INTO audit_records (seq, recorded_at, action, outcome, actor, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          5, sqlTime(fx, at), 'test.append', 'success', 'user:mallory', body, fourth!.hash, chainHash(fourth!.hash, body),
        ]);
        await expectProblem(fx, 'inserted', 5, /record at position 5: was inserted/);
      });
    });

    it('catches a naively inserted record (garbage hash), by position', async () => {
      await withLog(database, 12, 1000, async (fx, sql) => {
        await sql('UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 5');
        await sql('UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000');
        const body = encodeRecordBody(5, new Date(), { action: 'test.append', outcome: 'success' });
        await sql('INSERT INTO audit_records (seq, recorded_at, action, outcome, actor, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          5, sqlTime(fx, new Date()), 'test.append', 'success', null, body, Buffer.alloc(32, 1), Buffer.alloc(32, 2),
        ]);
        await expectProblem(fx, 'inserted', 5);
      });
    });

    it('catches a rewritten chain (every later hash recomputed) with the signed checkpoints', async () => {
      await withLog(database, 25, 10, async (fx, sql) => {
        const rows = (await sql('SELECT seq, recorded_at, body FROM audit_records ORDER BY seq')) as { seq: number | string; body: string }[];
        let prev: Buffer = Buffer.alloc(32);
        for (const row of rows) {
          const body = Number(row.seq) === 5 ? row.body.replace('"i":4', '"i":44') : row.body;
          const hash = chainHash(prev, body);
          await sql('UPDATE audit_records SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?', [body, prev, hash, Number(row.seq)]);
          prev = hash;
        }
        // Checkpoints sealed records 1, 11 and 21 (the first record is sealed at once).
        await expectProblem(fx, 'edited', 11, /between positions 2 and 11 were rewritten/);
      });
    });

    it('catches records deleted from the end when a checkpoint covers them', async () => {
      await withLog(database, 25, 10, async (fx, sql) => {
        await fx.log.checkpoint();
        await sql('DELETE FROM audit_records WHERE seq > 22');
        await expectProblem(fx, 'truncated', 23, /from position 23 on were deleted/);
      });
    });

    it('catches a forged checkpoint and a swapped checkpoint key', async () => {
      await withLog(database, 25, 10, async (fx, sql) => {
        await sql("UPDATE audit_checkpoints SET payload = REPLACE(payload, '\"seq\":11', '\"seq\":12') WHERE number = 2");
        await expectProblem(fx, 'checkpoint-invalid', 0, /checkpoint 2: the signature does not verify/);
      });
      await withLog(database, 25, 10, async (fx, sql) => {
        // An attacker with database access re-signs every checkpoint with a key of their own.
        const { publicKey, privateKey } = generateKeyPairSync('ed25519');
        const checkpoints = (await sql('SELECT number, payload FROM audit_checkpoints')) as { number: number | string; payload: string }[];
        for (const c of checkpoints) await sql('UPDATE audit_checkpoints SET signature = ? WHERE number = ?', [sign(null, Buffer.from(c.payload), privateKey), Number(c.number)]);
        await sql('UPDATE audit_signing_keys SET public_key = ?', [publicKey.export({ type: 'spki', format: 'der' })]);
        await expectProblem(fx, 'signing-key-invalid', 0, /is not the one whose private key the vault protects/);
      });
    });

    it('never writes key material, tokens or PINs', async () => {
      await withLog(database, 0, 1000, async (fx, sql) => {
        const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
        await fx.log.record({
          action: 'test.secrets',
          outcome: 'success',
          reason: `bearer ${jwt}`,
          details: { pin: '123456', accessToken: 'opaque', note: '-----BEGIN PRIVATE KEY-----', material: 'q'.repeat(43), keyUri: 'kms://kms.realm.test/keys/6f1c1b8e-1f3a-4ab2-9d55-5a7a1f6c2b10' },
        });
        const [row] = (await sql("SELECT body FROM audit_records WHERE action = 'test.secrets'")) as { body: string }[];
        const body = JSON.parse(row!.body) as { reason: string; details: Record<string, string> };
        for (const secret of [jwt, '123456', 'opaque', 'BEGIN PRIVATE KEY', 'q'.repeat(43)]) assert.equal(row!.body.includes(secret), false, `${secret} leaked`);
        assert.equal(body.reason, REDACTED);
        assert.equal(body.details.pin, REDACTED);
        assert.equal(body.details.keyUri, 'kms://kms.realm.test/keys/6f1c1b8e-1f3a-4ab2-9d55-5a7a1f6c2b10', 'URIs are kept');
      });
    });

    it('fails closed: a record that cannot be committed rejects, and a record inside a transaction is refused', async () => {
      await withLog(database, 1, 1000, async (fx) => {
        await assert.rejects(
          fx.db.write(() => fx.log.record({ action: 'test.nested', outcome: 'success' })),
          (error: Error & { code?: string }) => error.code === 'AUDIT_WRITE_FAILED',
        );
        await fx.db.query('DROP TABLE audit_records');
        await assert.rejects(fx.log.record({ action: 'test.lost', outcome: 'success' }), (error: Error & { code?: string }) => error.code === 'AUDIT_WRITE_FAILED');
      });
    });

    if (database.name === 'sqlite') {
      it('commits the next records while the previous commit waits for the disk (two flushes in flight)', async () => {
        const created = await database.create();
        let syncs = 0;
        let release = () => {};
        let gate = Promise.resolve();
        const fx = await openAudit(created.env, {}, async () => {
          syncs += 1;
          await gate;
        });
        const count = async () => Number(((await fx.db.read((tx) => tx.manager.query('SELECT COUNT(*) AS n FROM audit_records'))) as { n: number }[])[0]!.n);
        try {
          gate = new Promise<void>((resolve) => (release = resolve));
          syncs = 0;
          let firstDone = false;
          const first = fx.log.record({ action: 'test.first', outcome: 'success' }).then(() => (firstDone = true));
          while (syncs === 0) await new Promise((resolve) => setTimeout(resolve, 5));
          const second = fx.log.record({ action: 'test.second', outcome: 'success' });
          const deadline = Date.now() + 2_000;
          while ((await count()) < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
          assert.equal(await count(), 2, "the second record committed while the first commit's fsync was still running");
          assert.equal(firstDone, false, 'and the first is not acknowledged before its fsync');
          release();
          await Promise.all([first, second]);
          assert.equal((await new AuditVerifier(fx.db, fx.vault).verify()).ok, true);
        } finally {
          release();
          await fx.close();
          await created.drop();
        }
      });
    }

    it("commits an operation's writes and its records together, or neither", async () => {
      await withLog(database, 2, 1000, async (fx, sql) => {
        await sql('CREATE TABLE op_rows (id varchar(36) PRIMARY KEY)');
        const opRows = async () => ((await sql('SELECT id FROM op_rows ORDER BY id')) as { id: string }[]).map((r) => r.id);
        const records = async () => Number(((await sql('SELECT COUNT(*) AS n FROM audit_records')) as { n: number | string }[])[0]!.n);
        const insertOp = (tx: Parameters<Parameters<typeof fx.db.write>[0]>[0], id: string) => tx.manager.query(portableSql(fx.db.driver, 'INSERT INTO op_rows (id) VALUES (?)'), [id]);
        const value = await fx.log.writeWithRecords(async (tx) => {
          await insertOp(tx, 'a');
          return { value: 42, events: [{ action: 'test.op', outcome: 'success' as const, resources: ['a'] }, { action: 'test.op', outcome: 'denied' as const, reason: 'second record of the same operation' }] };
        });
        assert.equal(value, 42);
        assert.deepEqual(await opRows(), ['a']);
        assert.equal(await records(), 4);
        // The operation fails after writing: its row is rolled back and no record is appended.
        await assert.rejects(
          fx.log.writeWithRecords(async (tx) => {
            await insertOp(tx, 'b');
            throw new Error('operation failed');
          }),
          /operation failed/,
        );
        assert.deepEqual(await opRows(), ['a']);
        assert.equal(await records(), 4);
        // Operations waiting together share one commit; the one that fails is rolled back alone.
        const [kept, failed] = await Promise.allSettled([
          fx.log.writeWithRecords(async (tx) => ({ value: await insertOp(tx, 'd'), events: [{ action: 'test.op', outcome: 'success' as const, resources: ['d'] }] })),
          fx.log.writeWithRecords(async (tx) => {
            await insertOp(tx, 'e');
            await insertOp(tx, 'a');
            return { value: undefined, events: [{ action: 'test.op', outcome: 'success' as const, resources: ['e'] }] };
          }),
        ]);
        assert.equal(kept.status, 'fulfilled');
        assert.equal(failed.status, 'rejected', 'a duplicate key fails its own operation');
        assert.deepEqual(await opRows(), ['a', 'd']);
        assert.equal(await records(), 5);
        await fx.log.checkpoint();
        assert.equal((await new AuditVerifier(fx.db, fx.vault).verify()).ok, true);
        // The records cannot be appended: the operation's row is rolled back with them.
        await sql('DROP TABLE audit_records');
        await assert.rejects(fx.log.writeWithRecords(async (tx) => ({ value: await insertOp(tx, 'c'), events: [{ action: 'test.op', outcome: 'success' as const }] })), (error: Error & { code?: string }) => error.code === 'AUDIT_WRITE_FAILED');
        assert.deepEqual(await opRows(), ['a', 'd']);
      });
    });

    it('keeps one valid chain when two processes append to the same database at once', async () => {
      const created = await database.create();
      try {
        // Initialise the vault and the audit tables once, as `realmctl init` would.
        await (await openAudit(created.env)).close();
        const env = { ...process.env, ...created.env, REALM_LOG_LEVEL: 'silent' };
        await Promise.all([run(process.execPath, [writer, 'node-a', '150'], { env }), run(process.execPath, [writer, 'node-b', '150'], { env })]);
        const fx = await openAudit(created.env);
        try {
          const report = await new AuditVerifier(fx.db, fx.vault).verify();
          assert.equal(report.ok, true, report.problem?.message);
          assert.equal(report.records, 300);
          const actors = (await fx.db.query('SELECT actor FROM audit_records')) as { actor: string }[];
          assert.deepEqual(new Set(actors.map((a) => a.actor)), new Set(['service:node-a', 'service:node-b']));
        } finally {
          await fx.close();
        }
      } finally {
        await created.drop();
      }
    });
  });
}
