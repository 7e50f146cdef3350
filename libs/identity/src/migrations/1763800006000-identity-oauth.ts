import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/**
 * The OAuth 2.0 authorization server's storage: one table for every oidc-provider artifact (codes,
 * device codes, refresh tokens, grants, sessions, interactions), looked up by id, user code, session
 * uid or grant id, and purged by expiry; and the first-party clients `realmctl client` registers.
 */
export class IdentityOAuth1763800006000 implements MigrationInterface {
  name = 'IdentityOAuth1763800006000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'identity_oauth_artifacts',
          columns: [
            { name: 'model', type: 'string', length: 48, primary: true },
            { name: 'id', type: 'string', length: 128, primary: true },
            { name: 'payload', type: 'json' },
            { name: 'grant_id', type: 'string', length: 128, nullable: true },
            { name: 'user_code', type: 'string', length: 64, nullable: true },
            { name: 'uid', type: 'string', length: 128, nullable: true },
            { name: 'consumed_at', type: 'timestamp', nullable: true },
            { name: 'credential_epoch', type: 'int', nullable: true },
            { name: 'expires_at', type: 'timestamp' },
          ],
          indices: [
            { name: 'identity_oauth_artifacts_grant_id', columns: ['grant_id'] },
            { name: 'identity_oauth_artifacts_user_code', columns: ['model', 'user_code'] },
            { name: 'identity_oauth_artifacts_uid', columns: ['model', 'uid'] },
            { name: 'identity_oauth_artifacts_expires_at', columns: ['expires_at'] },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_oauth_clients',
          columns: [
            { name: 'client_id', type: 'string', length: 64, primary: true },
            { name: 'name', type: 'string', length: 128, unique: true },
            { name: 'secret_sha256', type: 'string', length: 64, nullable: true },
            { name: 'redirect_uris', type: 'json' },
            { name: 'grant_types', type: 'json' },
            { name: 'created_at', type: 'timestamp' },
          ],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['identity_oauth_clients', 'identity_oauth_artifacts']) await runner.dropTable(table);
  }
}
