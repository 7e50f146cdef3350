import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/** Keys, resources, authorizations, ECDHE channels, the replay cache and the static keys. */
export class KmsInit1763800004000 implements MigrationInterface {
  name = 'KmsInit1763800004000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'kms_keys',
          columns: [
            { name: 'uri', type: 'string', length: 128, primary: true },
            { name: 'owner', type: 'string', length: 256 },
            { name: 'client_id', type: 'string', length: 256 },
            { name: 'resource_uri', type: 'string', length: 128, nullable: true },
            { name: 'create_date', type: 'timestamp' },
            { name: 'expiration_date', type: 'timestamp' },
            { name: 'bind_date', type: 'timestamp', nullable: true },
          ],
          indices: [{ name: 'kms_keys_resource_bind', columns: ['resource_uri', 'bind_date'] }],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'kms_resources',
          columns: [
            { name: 'uri', type: 'string', length: 128, primary: true },
            { name: 'creator', type: 'string', length: 256 },
            { name: 'create_date', type: 'timestamp' },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'kms_authorizations',
          columns: [
            { name: 'uri', type: 'string', length: 128, primary: true },
            { name: 'resource_uri', type: 'string', length: 128 },
            { name: 'auth_id', type: 'string', length: 256 },
            { name: 'creator', type: 'string', length: 256 },
            { name: 'create_date', type: 'timestamp' },
          ],
          indices: [
            // One authorization per (KRO, authId); lookups by member for KRO-to-KRO inheritance.
            { name: 'kms_authorizations_resource_auth', columns: ['resource_uri', 'auth_id'], unique: true },
            { name: 'kms_authorizations_auth', columns: ['auth_id'] },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'kms_channels',
          columns: [
            { name: 'uri', type: 'string', length: 128, primary: true },
            { name: 'principal_id', type: 'string', length: 256 },
            { name: 'client_id', type: 'string', length: 256 },
            { name: 'static_key_uri', type: 'string', length: 128 },
            { name: 'create_date', type: 'timestamp' },
            { name: 'expiration_date', type: 'timestamp' },
          ],
          indices: [{ name: 'kms_channels_expiration', columns: ['expiration_date'] }],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'kms_replay',
          columns: [
            { name: 'channel_uri', type: 'string', length: 128, primary: true },
            { name: 'request_id', type: 'string', length: 128, primary: true },
            { name: 'seen_at', type: 'timestamp' },
          ],
          // A request on a deleted channel fails its replay insert, on whichever node it arrives.
          foreignKeys: [{ columns: ['channel_uri'], referencedTable: 'kms_channels', referencedColumns: ['uri'], onDelete: 'CASCADE' }],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'kms_static_keys',
          columns: [
            { name: 'uri', type: 'string', length: 128, primary: true },
            { name: 'state', type: 'string', length: 16 },
            { name: 'certificate_chain', type: 'json' },
            { name: 'create_date', type: 'timestamp' },
            { name: 'retire_date', type: 'timestamp', nullable: true },
          ],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['kms_static_keys', 'kms_replay', 'kms_channels', 'kms_authorizations', 'kms_resources', 'kms_keys']) await runner.dropTable(table);
  }
}
