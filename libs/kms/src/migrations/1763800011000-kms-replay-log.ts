import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable, sqlType, type Driver } from '@realm/persistence';

// Rows carried over per INSERT: far below either database's parameter limit.
const COPY_CHUNK = 500;

/**
 * The replay cache as a log: one row per channel and batch, holding the batch's new requestIds,
 * numbered per channel, instead of one row per requestId keyed by (channel, requestId).
 *
 * Why: requestIds are random, so every requestId inserted into a B-tree keyed by them lands on a
 * page of its own. With a channel's rows spread over dozens of pages, a batch of 50 dirtied about
 * as many pages, each written whole to the WAL at COMMIT (measured on SQLite: 9–12 µs per
 * requestId once a channel holds a few thousand, growing with the table; a log row per batch: about
 * 1 µs per requestId, flat). A channel's log rows are appended in order, so a batch dirties one or
 * two pages. Each node checks requestIds against its memory of the log (KmsChannels), reading the
 * rows appended since by other nodes in the same transaction as its own append.
 *
 * Every requestId recorded before the upgrade is carried over, as each channel's first log row,
 * so none of them can be replayed after it.
 */
export class KmsReplayLog1763800011000 implements MigrationInterface {
  name = 'KmsReplayLog1763800011000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    if (driver === 'sqlite') {
      // WITHOUT ROWID: the primary key is the table, one B-tree rather than a table and its index.
      await runner.query(
        `CREATE TABLE "kms_replay_log" ("channel_key" bigint NOT NULL, "seq" bigint NOT NULL, "request_ids" text NOT NULL, "recorded_at" ${sqlType('timestamp', driver)} NOT NULL, ` +
          'PRIMARY KEY ("channel_key", "seq"), ' +
          'FOREIGN KEY ("channel_key") REFERENCES "kms_channels" ("replay_key") ON DELETE CASCADE) WITHOUT ROWID',
      );
    } else {
      await runner.createTable(
        portableTable(
          {
            name: 'kms_replay_log',
            columns: [
              { name: 'channel_key', type: 'bigint', primary: true },
              { name: 'seq', type: 'bigint', primary: true },
              { name: 'request_ids', type: 'json' },
              { name: 'recorded_at', type: 'timestamp' },
            ],
            foreignKeys: [{ columns: ['channel_key'], referencedTable: 'kms_channels', referencedColumns: ['replay_key'], onDelete: 'CASCADE' }],
          },
          driver,
        ),
      );
    }
    const seen = (await runner.query('SELECT "channel_key", "request_id", "seen_at" FROM "kms_replay" ORDER BY "channel_key", "seen_at", "request_id"')) as { channel_key: number | string; request_id: string; seen_at: unknown }[];
    const logs = new Map<string, { requestIds: string[]; recordedAt: unknown }>();
    for (const row of seen) {
      const key = String(row.channel_key);
      const log = logs.get(key) ?? { requestIds: [], recordedAt: row.seen_at };
      log.requestIds.push(row.request_id);
      log.recordedAt = row.seen_at;
      logs.set(key, log);
    }
    await insertChunked(
      runner,
      driver,
      'INSERT INTO "kms_replay_log" ("channel_key", "seq", "request_ids", "recorded_at") VALUES',
      [...logs].map(([key, log]) => [key, 1, JSON.stringify(log.requestIds), log.recordedAt]),
    );
    await runner.query('DROP TABLE "kms_replay"');
  }

  async down(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    if (driver === 'sqlite') {
      await runner.query(
        `CREATE TABLE "kms_replay" ("channel_key" bigint NOT NULL, "request_id" varchar(128) NOT NULL, "seen_at" ${sqlType('timestamp', driver)} NOT NULL, ` +
          'PRIMARY KEY ("channel_key", "request_id"), ' +
          'FOREIGN KEY ("channel_key") REFERENCES "kms_channels" ("replay_key") ON DELETE CASCADE) WITHOUT ROWID',
      );
    } else {
      await runner.createTable(
        portableTable(
          {
            name: 'kms_replay',
            columns: [
              { name: 'channel_key', type: 'bigint', primary: true },
              { name: 'request_id', type: 'string', length: 128, primary: true },
              { name: 'seen_at', type: 'timestamp' },
            ],
            foreignKeys: [{ columns: ['channel_key'], referencedTable: 'kms_channels', referencedColumns: ['replay_key'], onDelete: 'CASCADE' }],
          },
          driver,
        ),
      );
    }
    const logs = (await runner.query('SELECT "channel_key", "request_ids", "recorded_at" FROM "kms_replay_log"')) as { channel_key: number | string; request_ids: string; recorded_at: unknown }[];
    await insertChunked(
      runner,
      driver,
      'INSERT INTO "kms_replay" ("channel_key", "request_id", "seen_at") VALUES',
      logs.flatMap((log) => (JSON.parse(log.request_ids) as string[]).map((requestId) => [log.channel_key, requestId, log.recorded_at])),
    );
    await runner.query('DROP TABLE "kms_replay_log"');
  }
}

/** `insert` (an INSERT ... VALUES without its tuples) for every row, in multi-row statements. */
async function insertChunked(runner: QueryRunner, driver: Driver, insert: string, rows: readonly (readonly unknown[])[]): Promise<void> {
  for (let start = 0; start < rows.length; start += COPY_CHUNK) {
    const chunk = rows.slice(start, start + COPY_CHUNK);
    let n = 0;
    const tuples = chunk.map((row) => `(${row.map(() => (driver === 'postgres' ? `$${++n}` : '?')).join(', ')})`);
    await runner.query(`${insert} ${tuples.join(', ')}`, chunk.flat());
  }
}
