import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/**
 * Principals, token-signing keys, the service CA and the certificates it issued.
 *
 * Three uniqueness rules are partial indexes (SQLite and PostgreSQL both have them), created after
 * the tables because the portable table spec has no WHERE clause: a user name is unique among
 * principals not deleted (so a deleted user's name can be given to a new user, with a new id);
 * at most one signing key and one service CA are active, even when two nodes create one at once.
 */
export class IdentityInit1763800002000 implements MigrationInterface {
  name = 'IdentityInit1763800002000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'identity_principals',
          columns: [
            { name: 'id', type: 'string', length: 128, primary: true },
            { name: 'kind', type: 'string', length: 16 },
            { name: 'name', type: 'string', length: 256 },
            { name: 'email', type: 'string', length: 320, nullable: true },
            { name: 'status', type: 'string', length: 16 },
            { name: 'roles', type: 'json' },
            { name: 'credential_epoch', type: 'int' },
            { name: 'created_at', type: 'timestamp' },
            { name: 'updated_at', type: 'timestamp' },
          ],
          indices: [{ name: 'identity_principals_kind_name', columns: ['kind', 'name'] }],
        },
        driver,
      ),
    );
    await runner.createIndex(
      'identity_principals',
      new TableIndex({ name: 'identity_principals_live_name_unique', columnNames: ['kind', 'name'], isUnique: true, where: "status <> 'deleted'" }),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_signing_keys',
          columns: [
            { name: 'kid', type: 'string', length: 64, primary: true },
            { name: 'alg', type: 'string', length: 16 },
            { name: 'public_jwk', type: 'json' },
            { name: 'state', type: 'string', length: 16 },
            { name: 'created_at', type: 'timestamp' },
            { name: 'retired_at', type: 'timestamp', nullable: true },
            { name: 'not_after', type: 'timestamp', nullable: true },
          ],
        },
        driver,
      ),
    );
    await runner.createIndex(
      'identity_signing_keys',
      new TableIndex({ name: 'identity_signing_keys_one_active', columnNames: ['state'], isUnique: true, where: "state = 'active'" }),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_service_cas',
          columns: [
            { name: 'id', type: 'string', length: 36, primary: true },
            { name: 'certificate', type: 'text' },
            { name: 'state', type: 'string', length: 16 },
            { name: 'created_at', type: 'timestamp' },
          ],
        },
        driver,
      ),
    );
    await runner.createIndex(
      'identity_service_cas',
      new TableIndex({ name: 'identity_service_cas_one_active', columnNames: ['state'], isUnique: true, where: "state = 'active'" }),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_service_certificates',
          columns: [
            { name: 'serial', type: 'string', length: 40, primary: true },
            { name: 'ca_id', type: 'string', length: 36 },
            { name: 'principal_id', type: 'string', length: 128 },
            { name: 'fingerprint_sha256', type: 'string', length: 64 },
            { name: 'not_after', type: 'timestamp' },
            { name: 'revoked', type: 'bool' },
            { name: 'revoked_at', type: 'timestamp', nullable: true },
            { name: 'created_at', type: 'timestamp' },
          ],
          indices: [
            { name: 'identity_service_certificates_fingerprint_unique', columns: ['fingerprint_sha256'], unique: true },
            { name: 'identity_service_certificates_principal_id', columns: ['principal_id'] },
          ],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['identity_service_certificates', 'identity_service_cas', 'identity_signing_keys', 'identity_principals']) await runner.dropTable(table);
  }
}
