import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/**
 * Handshakes seen (SHA-256 of the compact JWE), so a relay that captured one cannot make the KMS
 * open a channel again with it. Kept until no credential it can carry is still valid.
 */
export class KmsHandshakeReplay1763800009000 implements MigrationInterface {
  name = 'KmsHandshakeReplay1763800009000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'kms_handshakes',
          columns: [
            { name: 'digest', type: 'string', length: 64, primary: true },
            { name: 'expires_at', type: 'timestamp' },
          ],
          indices: [{ name: 'kms_handshakes_expires_at', columns: ['expires_at'] }],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.dropTable('kms_handshakes');
  }
}
