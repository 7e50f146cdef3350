import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/**
 * Pending SAML AuthnRequest ids (InResponseTo is checked against them on any node, each used once)
 * and the appliance's browser sessions (found by the SHA-256 of the session id, never by the id).
 */
export class IdentitySamlSessions1763800005000 implements MigrationInterface {
  name = 'IdentitySamlSessions1763800005000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'identity_saml_requests',
          columns: [
            { name: 'id', type: 'string', length: 128, primary: true },
            { name: 'created_at', type: 'timestamp' },
            { name: 'expires_at', type: 'timestamp' },
          ],
          indices: [{ name: 'identity_saml_requests_expires_at', columns: ['expires_at'] }],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_sessions',
          columns: [
            { name: 'id_hash', type: 'string', length: 64, primary: true },
            { name: 'principal_id', type: 'string', length: 128 },
            { name: 'credential_epoch', type: 'int' },
            { name: 'created_at', type: 'timestamp' },
            { name: 'last_seen_at', type: 'timestamp' },
          ],
          indices: [
            { name: 'identity_sessions_principal_id', columns: ['principal_id'] },
            { name: 'identity_sessions_last_seen_at', columns: ['last_seen_at'] },
          ],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['identity_sessions', 'identity_saml_requests']) await runner.dropTable(table);
  }
}
