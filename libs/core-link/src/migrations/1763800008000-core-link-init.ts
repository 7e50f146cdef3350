import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/**
 * The link identity (docs/narrow-api.md §2.1). At most one is active, even when two nodes renew
 * it at once: a partial unique index, created after the table (the portable spec has no WHERE).
 */
export class CoreLinkInit1763800008000 implements MigrationInterface {
  name = 'CoreLinkInit1763800008000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'core_link_identities',
          columns: [
            { name: 'id', type: 'string', length: 36, primary: true },
            { name: 'certificate', type: 'text' },
            { name: 'ca_certificate', type: 'text' },
            { name: 'key_uri', type: 'string', length: 128 },
            { name: 'serial', type: 'string', length: 64 },
            { name: 'not_after', type: 'timestamp' },
            { name: 'state', type: 'string', length: 16 },
            { name: 'created_at', type: 'timestamp' },
          ],
        },
        driver,
      ),
    );
    await runner.createIndex('core_link_identities', new TableIndex({ name: 'core_link_identities_one_active', columnNames: ['state'], isUnique: true, where: "state = 'active'" }));
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.dropTable('core_link_identities');
  }
}
