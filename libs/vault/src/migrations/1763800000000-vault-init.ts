import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/** The key hierarchy: master-key generations, wrapped KEKs, sealed keys. */
export class VaultInit1763800000000 implements MigrationInterface {
  name = 'VaultInit1763800000000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'vault_master_keys',
          columns: [
            { name: 'generation', type: 'int', primary: true },
            { name: 'backend', type: 'string', length: 16 },
            { name: 'label', type: 'string', length: 64 },
            { name: 'state', type: 'string', length: 16 },
            { name: 'check_value', type: 'binary' },
            { name: 'created_at', type: 'timestamp' },
            { name: 'retired_at', type: 'timestamp', nullable: true },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'vault_keks',
          columns: [
            { name: 'id', type: 'string', length: 36, primary: true },
            { name: 'epoch', type: 'bigint' },
            { name: 'master_generation', type: 'int' },
            { name: 'wrapped', type: 'binary' },
            { name: 'created_at', type: 'timestamp' },
          ],
          indices: [
            // One KEK per epoch, even with several nodes creating it at the same moment.
            { name: 'vault_keks_epoch_unique', columns: ['epoch'], unique: true },
            { name: 'vault_keks_master_generation', columns: ['master_generation'] },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'vault_keys',
          columns: [
            { name: 'uri', type: 'string', length: 512, primary: true },
            { name: 'kek_id', type: 'string', length: 36 },
            { name: 'sealed', type: 'binary' },
            { name: 'created_at', type: 'timestamp' },
          ],
          indices: [{ name: 'vault_keys_kek_id', columns: ['kek_id'] }],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.dropTable('vault_keys');
    await runner.dropTable('vault_keks');
    await runner.dropTable('vault_master_keys');
  }
}
