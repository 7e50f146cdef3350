/**
 * The persistence layer on every database: durability settings, portable column types, migrations
 * that several nodes may run at once, unit-of-work rules, and the rule that only repositories and
 * migrations use TypeORM.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { loadConfig } from '@realm/config';
import { repoRoot, testDatabases, type TestDatabase } from '@realm/testing';
import { Database, defineEntity, driverOfRunner, PersistenceError, portableTable, RowStatements } from '../src/index.js';

interface SampleRow {
  id: string;
  blob: Buffer;
  at: Date;
  big: number;
  flag: boolean;
  doc: { nested: string[] };
}

const SampleEntity = defineEntity<SampleRow>({
  name: 'sample_rows',
  columns: {
    id: { column: 'id', type: 'string', length: 36, primary: true },
    blob: { column: 'blob', type: 'binary' },
    at: { column: 'at', type: 'timestamp' },
    big: { column: 'big', type: 'bigint' },
    flag: { column: 'flag', type: 'bool' },
    doc: { column: 'doc', type: 'json' },
  },
});

type AnyTx = Parameters<Parameters<Database['write']>[0]>[0];
const repo = (tx: AnyTx) => tx.manager.getRepository<SampleRow>('sample_rows');
const sample = (id: string, big = 1): SampleRow => ({ id, blob: Buffer.alloc(1), at: new Date(), big, flag: false, doc: { nested: [] } });

class SampleInit1700000000000 implements MigrationInterface {
  name = 'SampleInit1700000000000';
  async up(runner: QueryRunner): Promise<void> {
    await runner.createTable(
      portableTable(
        {
          name: 'sample_rows',
          columns: [
            { name: 'id', type: 'string', length: 36, primary: true },
            { name: 'blob', type: 'binary' },
            { name: 'at', type: 'timestamp' },
            { name: 'big', type: 'bigint' },
            { name: 'flag', type: 'bool' },
            { name: 'doc', type: 'json' },
          ],
        },
        driverOfRunner(runner),
      ),
    );
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.dropTable('sample_rows');
  }
}

const options = { entities: [SampleEntity], migrations: [SampleInit1700000000000] };

/** Runs `work` on a new database of `database`'s kind with the sample migration applied, then drops it. */
async function withMigratedDatabase(database: TestDatabase, work: (db: Database) => Promise<void>): Promise<void> {
  const created = await database.create();
  const db = await Database.open(loadConfig({ env: created.env }).database, options);
  try {
    await db.migrate();
    await work(db);
  } finally {
    await db.close();
    await created.drop();
  }
}

for (const database of testDatabases()) {
  describe(`database on ${database.name}`, () => {
    it('applies migrations once, even when several nodes start at the same moment, and never synchronizes', async () => {
      const created = await database.create();
      const config = loadConfig({ env: created.env });
      try {
        const nodes = await Promise.all([Database.open(config.database, options), Database.open(config.database, options), Database.open(config.database, options)]);
        const applied = await Promise.all(nodes.map((db) => db.migrate()));
        assert.deepEqual(applied.flat(), ['SampleInit1700000000000'], 'exactly one node applied the migration');
        for (const db of nodes) assert.equal(await db.hasPendingMigrations(), false);
        await Promise.all(nodes.map((db) => db.close()));
      } finally {
        await created.drop();
      }
    });

    it('round-trips binary, time zone-aware timestamps, bigints, booleans and JSON', async () => {
      await withMigratedDatabase(database, async (db) => {
        const row: SampleRow = { id: 'a', blob: Buffer.from([0, 255, 1, 128]), at: new Date('2026-03-29T01:30:00.123+02:00'), big: 2 ** 52 + 1, flag: true, doc: { nested: ['x', 'ü'] } };
        await db.write((tx) => tx.manager.getRepository<SampleRow>('sample_rows').insert(row));
        const read = await db.read((tx) => tx.manager.getRepository<SampleRow>('sample_rows').findOneByOrFail({ id: 'a' }));
        assert.deepEqual(read.blob, row.blob);
        assert.ok(Buffer.isBuffer(read.blob));
        assert.equal(read.at.toISOString(), '2026-03-28T23:30:00.123Z');
        assert.equal(read.big, row.big);
        assert.equal(read.flag, true);
        assert.deepEqual(read.doc, row.doc);
      });
    });

    it('hand-written statements (RowStatements) store and read rows exactly as TypeORM does', async () => {
      await withMigratedDatabase(database, async (db) => {
        const rows: SampleRow[] = ['a', 'b', 'c'].map((id, i) => ({ id, blob: Buffer.from([i, 255]), at: new Date(Date.UTC(2026, 2, 29, 1, 30, i)), big: 2 ** 52 + i, flag: i % 2 === 0, doc: { nested: [id, 'ü'] } }));
        await db.write((tx) => RowStatements.of<SampleRow>(tx, 'sample_rows').insert(rows));
        const viaTypeOrm = await db.read((tx) => tx.manager.getRepository<SampleRow>('sample_rows').find({ order: { id: 'ASC' } }));
        assert.deepEqual(viaTypeOrm, rows);
        const selected = await db.read((tx) => RowStatements.of<SampleRow>(tx, 'sample_rows').selectIn('id', ['c', 'a']));
        assert.deepEqual(selected.sort((x, y) => x.id.localeCompare(y.id)), [rows[0], rows[2]]);
        const statements = (tx: AnyTx) => RowStatements.of<SampleRow>(tx, 'sample_rows');
        assert.deepEqual(await db.read((tx) => statements(tx).pluck('big', '"flag" = ? ORDER BY "id"', [statements(tx).value('flag', true)])), [rows[0]!.big, rows[2]!.big]);
        assert.deepEqual(await db.read((tx) => statements(tx).pluck('at', '"id" = ?', ['b'])), [rows[1]!.at]);
        // Many rows (on SQLite in several statements: 64 + 8 + 2 + 1): every row arrives.
        const many = Array.from({ length: 75 }, (_, i) => sample(`m${String(i).padStart(2, '0')}`, i));
        await db.write((tx) => statements(tx).insert(many));
        assert.deepEqual(await db.read((tx) => statements(tx).pluck('big', '"id" LIKE ? ORDER BY "id"', ['m%'])), many.map((r) => r.big));
        // Rows sharing one Date object (converted once) and rows with their own, interleaved: each
        // row keeps its own time.
        const shared = new Date(Date.UTC(2026, 5, 1, 12, 0, 0, 250));
        const dated = ['t0', 't1', 't2', 't3', 't4'].map((id, i) => ({ ...sample(id, i), at: i % 2 === 0 ? shared : new Date(shared.getTime() + i * 1000) }));
        await db.write((tx) => statements(tx).insert(dated));
        assert.deepEqual(
          (await db.read((tx) => statements(tx).pluck('at', '"id" LIKE ? ORDER BY "id"', ['t%']))).map((at) => at.toISOString()),
          ['2026-06-01T12:00:00.250Z', '2026-06-01T12:00:01.250Z', '2026-06-01T12:00:00.250Z', '2026-06-01T12:00:03.250Z', '2026-06-01T12:00:00.250Z'],
        );
      });
    });

    it('commits all of a write or none of it, and refuses a write nested in another unit of work', async () => {
      await withMigratedDatabase(database, async (db) => {
        await assert.rejects(
          db.write(async (tx) => {
            await repo(tx).insert(sample('b'));
            await repo(tx).insert(sample('b'));
          }),
        );
        assert.equal(await db.read((tx) => repo(tx).countBy({ id: 'b' })), 0, 'the first insert was rolled back');
        await assert.rejects(db.write(() => db.write(async () => undefined)), /inside another unit of work/);
        assert.equal(db.insideUnitOfWork(), false);
        // Concurrent writes from one process are serialised, none lost.
        await Promise.all(Array.from({ length: 20 }, (_, i) => db.write((tx) => repo(tx).insert(sample(`c${i}`)))));
        assert.equal(await db.read((tx) => repo(tx).count()), 20);
      });
    });

    it("runs a write's afterCommit effects once it has committed, and never those of a write or savepoint that rolled back", async () => {
      await withMigratedDatabase(database, async (db) => {
        const ran: string[] = [];
        await db.write(async (tx) => {
          await repo(tx).insert(sample('a'));
          tx.afterCommit(() => ran.push('a'));
          assert.deepEqual(ran, [], 'not before the commit');
        });
        assert.deepEqual(ran, ['a']);
        await assert.rejects(
          db.write(async (tx) => {
            tx.afterCommit(() => ran.push('rolled back'));
            throw new Error('this write fails');
          }),
          /this write fails/,
        );
        // Started in one tick: on SQLite one group commit, in which the failing unit is rolled back alone.
        const group = await Promise.allSettled(
          ['g1', 'g2', 'g3'].map((name) =>
            db.write(async (tx) => {
              tx.afterCommit(() => ran.push(name));
              await repo(tx).insert(sample(name === 'g2' ? 'a' : name));
            }),
          ),
        );
        assert.deepEqual(group.map((g) => g.status), ['fulfilled', 'rejected', 'fulfilled']);
        await db.write(async (tx) => {
          await assert.rejects(
            db.savepoint(tx, async () => {
              tx.afterCommit(() => ran.push('savepoint rolled back'));
              throw new Error('this part fails');
            }),
          );
          tx.afterCommit(() => ran.push('after the savepoint'));
        });
        assert.deepEqual([...ran].sort(), ['a', 'after the savepoint', 'g1', 'g3']);
        await assert.rejects(
          db.read(async (tx) => tx.afterCommit(() => undefined)),
          /only a write commits/,
        );
      });
    });

    it('concurrent writes: a failing one is rolled back alone, each sees the ones before it, all resolve only once committed', async () => {
      const created = await database.create();
      const config = loadConfig({ env: created.env });
      const db = await Database.open(config.database, options);
      try {
        await db.migrate();
        await db.write((tx) => repo(tx).insert(sample('seed', 0)));
        // Started in one tick: on SQLite they share one group commit.
        const writes = Array.from({ length: 30 }, (_, i) =>
          db.write(async (tx) => {
            if (i % 3 === 0) {
              // Writes, then fails: its row must not survive, nor break the others.
              await repo(tx).insert(sample(`bad${i}`));
              await repo(tx).insert(sample('seed'));
            }
            // Read-modify-write of one counter: no update is lost (SQLite runs the units one after
            // the other; PostgreSQL needs the row lock repositories take for this).
            const seed =
              tx.driver === 'postgres' ? await repo(tx).findOneOrFail({ where: { id: 'seed' }, lock: { mode: 'pessimistic_write' } }) : await repo(tx).findOneByOrFail({ id: 'seed' });
            await repo(tx).update({ id: 'seed' }, { big: seed.big + 1 });
            await repo(tx).insert(sample(`ok${i}`, seed.big + 1));
            return seed.big + 1;
          }),
        );
        const settled = await Promise.allSettled(writes);
        settled.forEach((s, i) => assert.equal(s.status, i % 3 === 0 ? 'rejected' : 'fulfilled', `write ${i}`));
        const values = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value as number] : []));
        assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'each successful write saw every one committed before it');
        assert.equal((await db.read((tx) => repo(tx).findOneByOrFail({ id: 'seed' }))).big, 20);
        assert.equal(await db.read((tx) => repo(tx).count()), 21, 'the seed and the 20 successful rows; no row of a failed write');
        // Resolved means durable: a fresh connection (another process would be the same) sees every row.
        const other = await Database.open(config.database, options);
        assert.equal(await other.read((tx) => tx.manager.getRepository<SampleRow>('sample_rows').count()), 21);
        await other.close();
      } finally {
        await db.close();
        await created.drop();
      }
    });

    if (database.name === 'postgres') {
      it('ends the session of a node stuck inside a transaction after database.idleInTransactionTimeout, releasing its row locks', async () => {
        const created = await database.create();
        const config = loadConfig({ env: { ...created.env, REALM_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT: '1s' } });
        const stuckNode = await Database.open(config.database, options);
        const otherNode = await Database.open(config.database, options);
        try {
          await stuckNode.migrate();
          await stuckNode.write((tx) => repo(tx).insert(sample('shared', 0)));
          const [shown] = await otherNode.query<{ idle_in_transaction_session_timeout: string }[]>('SHOW idle_in_transaction_session_timeout');
          assert.equal(shown?.idle_in_transaction_session_timeout, '1s');
          let locked!: () => void;
          const holding = new Promise<void>((resolve) => (locked = resolve));
          // Locks the row, then stops between statements, as a paused VM or a SIGSTOPped process would.
          const stuck = stuckNode.write(async (tx) => {
            await repo(tx).update({ id: 'shared' }, { big: 1 });
            locked();
            await new Promise((resolve) => setTimeout(resolve, 3_000));
            await repo(tx).insert(sample('after-the-stall'));
          });
          await holding;
          // Without the timeout this would wait for the stuck node for as long as it stays stuck.
          await otherNode.write((tx) => repo(tx).update({ id: 'shared' }, { big: 2 }));
          await assert.rejects(stuck, 'the stuck write was never acknowledged');
          const rows = await otherNode.read((tx) => repo(tx).find({ order: { id: 'ASC' } }));
          assert.deepEqual(
            rows.map((r) => [r.id, r.big]),
            [['shared', 2]],
            'the stuck transaction rolled back whole',
          );
          // The stuck node's pool replaced the ended connection: it writes again.
          await stuckNode.write((tx) => repo(tx).insert(sample('recovered')));
        } finally {
          await otherNode.close();
          await stuckNode.close();
          await created.drop();
        }
      });

      it("stops waiting for another node's migration lock after database.migrationLockTimeout, naming that node's session, and migrates once it is released", async () => {
        const created = await database.create();
        // One pooled session, so the checks below run on the session that waited for the lock.
        const config = loadConfig({ env: { ...created.env, REALM_DATABASE_MIGRATION_LOCK_TIMEOUT: '1s', REALM_DATABASE_POOL_SIZE: '1' } });
        // A node that took the migration lock and froze: a session of its own that keeps it.
        const frozen = new pg.Client({ connectionString: created.url, application_name: 'frozen-node' });
        await frozen.connect();
        const db = await Database.open(config.database, options);
        try {
          const [{ pid }] = (await frozen.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
          await frozen.query('SELECT pg_advisory_lock($1)', [0x5ea1_7001]);
          const started = performance.now();
          const error = await db.migrate().then(
            () => assert.fail('migrate() must not wait for the lock without bound'),
            (thrown: unknown) => thrown,
          );
          const waited = performance.now() - started;
          assert.ok(waited >= 900 && waited < 10_000, `gave up after the timeout of 1 s, not ${waited} ms`);
          assert.ok(error instanceof PersistenceError);
          assert.equal(error.code, 'DB_MIGRATION_LOCKED');
          assert.equal(error.setting, 'database.migrationLockTimeout');
          for (const part of [`PostgreSQL session ${pid}`, 'application "frozen-node"', `SELECT pg_terminate_backend(${pid})`, 'longer than 1 s (database.migrationLockTimeout)']) {
            assert.ok(error.message.includes(part), `the error says ${JSON.stringify(part)}: ${error.message}`);
          }
          assert.ok(!error.message.includes(created.url), 'the error does not show the database URL');
          // Nothing was migrated, and the session's lock_timeout was for the wait only.
          const [table] = await db.query<{ migrations: string | null }[]>("SELECT to_regclass('migrations')::text AS migrations");
          assert.equal(table?.migrations, null, 'no migration ran: not even their table was created');
          const [shown] = await db.query<{ lock_timeout: string }[]>('SHOW lock_timeout');
          assert.equal(shown?.lock_timeout, '0', 'the pooled session waits for locks as before');
          // This node names its own sessions, so that a waiting node can say which one holds the lock.
          const [own] = await db.query<{ name: string }[]>('SELECT application_name AS name FROM pg_stat_activity WHERE pid = pg_backend_pid()');
          assert.equal(own?.name, `security-realm ${hostname()} pid ${process.pid}`.slice(0, 63));
          // The frozen node is ended (or lets go): this node migrates.
          await frozen.query('SELECT pg_advisory_unlock($1)', [0x5ea1_7001]);
          assert.deepEqual(await db.migrate(), ['SampleInit1700000000000']);
        } finally {
          await db.close();
          await frozen.end();
          await created.drop();
        }
      });
    }

    if (database.name === 'sqlite') {
      it("waits for another connection's write lock without blocking the event loop, reads meanwhile, then commits", async () => {
        const created = await database.create();
        const config = loadConfig({ env: created.env });
        const first = await Database.open(config.database, options);
        await first.migrate();
        // A second connection to the same file: what another appliance process (http.workers) has.
        const second = await Database.open(config.database, options);
        try {
          let locked!: () => void;
          const holding = new Promise<void>((resolve) => (locked = resolve));
          // The first connection holds the write lock for 400 ms (a unit that waits on a timer).
          const slow = first.write(async (tx) => {
            await repo(tx).insert(sample('first'));
            locked();
            await new Promise((resolve) => setTimeout(resolve, 400));
          });
          await holding;
          let ticks = 0;
          const ticker = setInterval(() => (ticks += 1), 10);
          const started = performance.now();
          const waiting = second.write((tx) => repo(tx).insert(sample('second')));
          // While its write waits for the lock, the second connection still reads (the first's row is not committed yet).
          assert.equal(await second.read((tx) => repo(tx).count()), 0);
          await waiting;
          clearInterval(ticker);
          await slow;
          assert.ok(performance.now() - started >= 300, 'the second write waited for the first to commit');
          // SQLite's own busy handler would have slept with the event loop blocked: no tick at all.
          assert.ok(ticks >= 10, `the event loop ran while the write waited (${ticks} ticks of 10 ms)`);
          assert.deepEqual((await second.read((tx) => repo(tx).find({ order: { id: 'ASC' } }))).map((r) => r.id), ['first', 'second']);
        } finally {
          await second.close();
          await first.close();
        }
      });

      it("reads on a query-only connection while this process's write is open, seeing what was committed", async () => {
        await withMigratedDatabase(database, async (db) => {
          await db.write((tx) => repo(tx).insert(sample('committed')));
          let release!: () => void;
          let inserted!: () => void;
          const insertedRow = new Promise<void>((resolve) => (inserted = resolve));
          const open = db.write(async (tx) => {
            await repo(tx).insert(sample('open'));
            inserted();
            await new Promise<void>((resolve) => (release = resolve));
        });
        await insertedRow;
        // The write is open and holds the connection: the read is answered anyway, without its row.
        assert.deepEqual((await db.read((tx) => repo(tx).find())).map((r) => r.id), ['committed']);
        await assert.rejects(db.read((tx) => repo(tx).insert(sample('sneaked'))), /readonly|read-only|SQLITE_READONLY/i);
        release();
        await open;
        assert.deepEqual((await db.read((tx) => repo(tx).find({ order: { id: 'ASC' } }))).map((r) => r.id), ['committed', 'open']);
        });
      });

      it('runs SQLite in WAL mode with synchronous=NORMAL on the writer and creates the file 0600', async () => {
        const created = await database.create();
        const config = loadConfig({ env: created.env });
        const db = await Database.open(config.database, options);
        try {
          assert.deepEqual(await db.query('PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
          // NORMAL: the COMMIT does not fsync; the WAL is fsynced before the write resolves (next tests).
          assert.deepEqual(await db.query('PRAGMA synchronous'), [{ synchronous: 1 }], 'NORMAL');
          assert.equal(statSync(config.database.sqlitePath!).mode & 0o777, 0o600);
        } finally {
          await db.close();
        }
      });

      it('resolves a write only after the WAL is fsynced, and commits the next write meanwhile', async () => {
        const created = await database.create();
        const config = loadConfig({ env: created.env });
        const synced: string[] = [];
        let release!: () => void;
        let gate: Promise<void> = Promise.resolve();
        const walFileSync = async (path: string) => {
          await gate;
          synced.push(path);
        };
        const db = await Database.open(config.database, { ...options, walFileSync });
        try {
          await db.migrate();
          gate = new Promise<void>((resolve) => (release = resolve));
          synced.length = 0;
          let firstDone = false;
          const first = db.write((tx) => repo(tx).insert(sample('first'))).then(() => (firstDone = true));
          await new Promise((resolve) => setTimeout(resolve, 50));
          assert.equal(firstDone, false, 'not acknowledged while its fsync has not completed');
          // The lock was released at COMMIT: another write commits while the first waits for the disk.
          let secondDone = false;
          const second = db.write((tx) => repo(tx).insert(sample('second'))).then(() => (secondDone = true));
          await new Promise((resolve) => setTimeout(resolve, 50));
          assert.deepEqual((await db.read((tx) => repo(tx).find({ order: { id: 'ASC' } }))).map((r) => r.id), ['first', 'second']);
          assert.equal(secondDone, false);
          release();
          await Promise.all([first, second]);
          assert.deepEqual(synced, [`${config.database.sqlitePath!}-wal`, `${config.database.sqlitePath!}-wal`], 'one sync for the first commit, one after it for the second');
        } finally {
          release?.();
          await db.close();
          await created.drop();
        }
      });

      it('fails a write whose WAL fsync fails, and refuses every later one and readiness, naming database.url', async () => {
        const created = await database.create();
        const config = loadConfig({ env: created.env });
        let failing = false;
        const walFileSync = async () => {
          if (failing) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
        };
        const db = await Database.open(config.database, { ...options, walFileSync });
        try {
          await db.migrate();
          await db.write((tx) => repo(tx).insert(sample('before')));
          failing = true;
          const refused = (error: unknown) => error instanceof PersistenceError && error.code === 'DB_UNAVAILABLE' && /database\.url/.test(error.message) && /fsync of the write-ahead log failed \(EIO/.test(error.message);
          await assert.rejects(db.write((tx) => repo(tx).insert(sample('unsynced'))), refused);
          // After a failed fsync the kernel may have dropped the pages: nothing later can be trusted.
          failing = false;
          let ran = false;
          await assert.rejects(
            db.write(async (tx) => {
              ran = true;
              await repo(tx).insert(sample('after'));
            }),
            refused,
          );
          assert.equal(ran, false, 'the later write did not even start');
          await assert.rejects(db.ping(), refused);
        } finally {
          await db.close();
          await created.drop();
        }
      });

      it('checkpoints the WAL into the database file on a worker thread, well below the automatic threshold', async () => {
        const created = await database.create();
        const file = loadConfig({ env: created.env }).database.sqlitePath!;
        const db = await Database.open(loadConfig({ env: created.env }).database, options);
        try {
          await db.migrate();
          const before = statSync(file).size;
          // About 2 MiB of rows: a twentieth of the writer's automatic checkpoint threshold.
          for (let i = 0; i < 20; i++) await db.write((tx) => repo(tx).insert(Array.from({ length: 50 }, (_, j) => ({ ...sample(`row-${i}-${j}`), blob: Buffer.alloc(2048, j) }))));
          const deadline = Date.now() + 5_000;
          while (statSync(file).size < before + 2_000_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
          assert.ok(statSync(file).size >= before + 2_000_000, `the rows reached the database file (${before} -> ${statSync(file).size} bytes)`);
        } finally {
          await db.close();
          await created.drop();
        }
      });
    }
  });
}

describe('database errors', () => {
  it('names the setting and masks the password when the server is down', async () => {
    const config = loadConfig({ env: { REALM_DATABASE_URL: 'postgres://realm:pw-7788@127.0.0.1:1/realm' } });
    await assert.rejects(Database.open(config.database, options), (error: unknown) => {
      assert.ok(error instanceof PersistenceError);
      assert.equal(error.code, 'DB_UNAVAILABLE');
      assert.equal(error.setting, 'database.url');
      assert.match(error.message, /^cannot open the database at postgres:\/\/realm:\*\*\*\*@127\.0\.0\.1:1\/realm \(database\.url\): .*ECONNREFUSED/);
      assert.equal(error.message.includes('pw-7788'), false);
      return true;
    });
  });
});

describe('architecture', () => {
  it('only repositories, migrations and libs/persistence import TypeORM', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts') && /from 'typeorm'/.test(readFileSync(path, 'utf8'))) {
          const rel = relative(repoRoot, path);
          const allowed = rel.startsWith('libs/persistence/') || /\.repository\.ts$/.test(name) || rel.includes('/migrations/');
          if (!allowed) offenders.push(rel);
        }
      }
    };
    for (const root of ['libs', 'apps']) {
      for (const pkg of readdirSync(join(repoRoot, root))) {
        const src = join(repoRoot, root, pkg, 'src');
        try {
          walk(src);
        } catch {
          // A package without src/.
        }
      }
    }
    assert.deepEqual(offenders, []);
  });
});
