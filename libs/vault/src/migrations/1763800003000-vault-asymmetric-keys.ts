import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/** Asymmetric key pairs (the KMS static identity, later others): public halves and where the private half lives. */
export class VaultAsymmetricKeys1763800003000 implements MigrationInterface {
  name = 'VaultAsymmetricKeys1763800003000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.createTable(
      portableTable(
        {
          name: 'vault_asymmetric_keys',
          columns: [
            { name: 'uri', type: 'string', length: 512, primary: true },
            { name: 'algorithm', type: 'string', length: 16 },
            { name: 'location', type: 'string', length: 16 },
            { name: 'token_id', type: 'binary', nullable: true },
            { name: 'public_key', type: 'binary' },
            { name: 'created_at', type: 'timestamp' },
          ],
        },
        driverOfRunner(runner),
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.dropTable('vault_asymmetric_keys');
  }
}
