import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable, sqlType } from '@realm/persistence';
import { newReplayKey } from '../channels/replay-key.js';

/**
 * The replay cache keyed by a channel's 53-bit `replay_key` instead of its URI. Every KMS message
 * inserts one row; its key used to start with the 70-character channel URI, so a channel's rows
 * spread over two to three times as many B-tree pages, and each batch (random requestIds) dirtied
 * that many pages more in the commit (measured on SQLite: 16.6 µs per row with the URI, 6.7 µs with
 * an integer and no rowid table). On SQLite the table is WITHOUT ROWID: the primary key is the
 * table, one B-tree rather than a table and its index.
 *
 * The rows already recorded are carried over, so no requestId seen before the upgrade can be
 * replayed after it.
 */
export class KmsReplayChannelKey1763800010000 implements MigrationInterface {
  name = 'KmsReplayChannelKey1763800010000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.query(`ALTER TABLE "kms_channels" ADD COLUMN "replay_key" ${sqlType('bigint', driver)}`);
    const channels = (await runner.query('SELECT "uri" FROM "kms_channels"')) as { uri: string }[];
    const placeholder = (n: number) => (driver === 'postgres' ? `$${n}` : '?');
    for (const { uri } of channels) await runner.query(`UPDATE "kms_channels" SET "replay_key" = ${placeholder(1)} WHERE "uri" = ${placeholder(2)}`, [newReplayKey(), uri]);
    // SQLite cannot add NOT NULL to an existing column without rebuilding the table (and the tables
    // that reference it); every channel row is written with a key from now on.
    if (driver === 'postgres') await runner.query('ALTER TABLE "kms_channels" ALTER COLUMN "replay_key" SET NOT NULL');
    await runner.query('CREATE UNIQUE INDEX "kms_channels_replay_key" ON "kms_channels" ("replay_key")');

    await runner.query('ALTER TABLE "kms_replay" RENAME TO "kms_replay_by_uri"');
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
            // A request on a deleted channel fails its replay insert, on whichever node it arrives.
            foreignKeys: [{ columns: ['channel_key'], referencedTable: 'kms_channels', referencedColumns: ['replay_key'], onDelete: 'CASCADE' }],
          },
          driver,
        ),
      );
    }
    await runner.query(
      'INSERT INTO "kms_replay" ("channel_key", "request_id", "seen_at") SELECT c."replay_key", r."request_id", r."seen_at" FROM "kms_replay_by_uri" r JOIN "kms_channels" c ON c."uri" = r."channel_uri"',
    );
    await runner.query('DROP TABLE "kms_replay_by_uri"');
  }

  async down(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.query('ALTER TABLE "kms_replay" RENAME TO "kms_replay_by_key"');
    await runner.createTable(
      portableTable(
        {
          name: 'kms_replay',
          columns: [
            { name: 'channel_uri', type: 'string', length: 128, primary: true },
            { name: 'request_id', type: 'string', length: 128, primary: true },
            { name: 'seen_at', type: 'timestamp' },
          ],
          foreignKeys: [{ columns: ['channel_uri'], referencedTable: 'kms_channels', referencedColumns: ['uri'], onDelete: 'CASCADE' }],
        },
        driver,
      ),
    );
    await runner.query(
      'INSERT INTO "kms_replay" ("channel_uri", "request_id", "seen_at") SELECT c."uri", r."request_id", r."seen_at" FROM "kms_replay_by_key" r JOIN "kms_channels" c ON c."replay_key" = r."channel_key"',
    );
    await runner.query('DROP TABLE "kms_replay_by_key"');
    await runner.query('DROP INDEX "kms_channels_replay_key"');
    await runner.query('ALTER TABLE "kms_channels" DROP COLUMN "replay_key"');
  }
}
