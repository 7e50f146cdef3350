import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/** The hash-chained audit log, its head row, signed checkpoints and checkpoint keys. */
export class AuditInit1763800001000 implements MigrationInterface {
  name = 'AuditInit1763800001000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'audit_records',
          columns: [
            { name: 'seq', type: 'bigint', primary: true },
            { name: 'recorded_at', type: 'timestamp' },
            { name: 'action', type: 'string', length: 128 },
            { name: 'outcome', type: 'string', length: 16 },
            { name: 'actor', type: 'string', length: 256, nullable: true },
            { name: 'body', type: 'text' },
            { name: 'prev_hash', type: 'binary' },
            { name: 'hash', type: 'binary' },
          ],
          indices: [
            { name: 'audit_records_recorded_at', columns: ['recorded_at'] },
            { name: 'audit_records_action', columns: ['action'] },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'audit_head',
          columns: [
            { name: 'id', type: 'int', primary: true },
            { name: 'seq', type: 'bigint' },
            { name: 'hash', type: 'binary' },
            { name: 'checkpoint_number', type: 'bigint' },
            { name: 'checkpoint_seq', type: 'bigint' },
            { name: 'checkpoint_at', type: 'timestamp', nullable: true },
            { name: 'checkpoint_digest', type: 'binary' },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'audit_checkpoints',
          columns: [
            { name: 'number', type: 'bigint', primary: true },
            { name: 'record_seq', type: 'bigint' },
            { name: 'record_hash', type: 'binary' },
            { name: 'signed_at', type: 'timestamp' },
            { name: 'key_id', type: 'string', length: 64 },
            { name: 'payload', type: 'text' },
            { name: 'signature', type: 'binary' },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'audit_signing_keys',
          columns: [
            { name: 'key_id', type: 'string', length: 64, primary: true },
            { name: 'algorithm', type: 'string', length: 16 },
            { name: 'public_key', type: 'binary' },
            { name: 'created_at', type: 'timestamp' },
          ],
        },
        driver,
      ),
    );
    // The genesis head: sequence 0, hash of 32 zero bytes, no checkpoint yet.
    const zero = Buffer.alloc(32);
    const placeholders = driver === 'postgres' ? '$1, $2, $3, $4, $5, $6, $7' : '?, ?, ?, ?, ?, ?, ?';
    await runner.query(
      `INSERT INTO audit_head (id, seq, hash, checkpoint_number, checkpoint_seq, checkpoint_at, checkpoint_digest) VALUES (${placeholders})`,
      [1, 0, zero, 0, 0, null, zero],
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['audit_signing_keys', 'audit_checkpoints', 'audit_head', 'audit_records']) await runner.dropTable(table);
  }
}
