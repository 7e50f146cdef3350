import type { MigrationInterface, QueryRunner } from 'typeorm';
import { driverOfRunner, portableTable } from '@realm/persistence';

/**
 * SCIM 2.0 provisioning (RFC 7643/7644): the SCIM clients' bearer tokens (SHA-256 only), the
 * SCIM-only attributes of users, groups and their members.
 *
 * A group's displayName is unique: roles are granted by group name (identity.saml.roles.*), so two
 * groups of one name would make a membership ambiguous. Members go with their group (CASCADE);
 * principals are never deleted as rows, so members reference them without a foreign key and are
 * removed by the service when a user is deleted.
 */
export class IdentityScim1763800007000 implements MigrationInterface {
  name = 'IdentityScim1763800007000';

  async up(runner: QueryRunner): Promise<void> {
    const driver = driverOfRunner(runner);
    await runner.createTable(
      portableTable(
        {
          name: 'identity_scim_tokens',
          columns: [
            { name: 'id', type: 'string', length: 32, primary: true },
            { name: 'name', type: 'string', length: 128 },
            { name: 'hash_sha256', type: 'string', length: 64 },
            { name: 'created_at', type: 'timestamp' },
            { name: 'revoked_at', type: 'timestamp', nullable: true },
          ],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_scim_users',
          columns: [
            { name: 'principal_id', type: 'string', length: 128, primary: true },
            { name: 'external_id', type: 'string', length: 256, nullable: true },
            { name: 'display_name', type: 'string', length: 256, nullable: true },
            { name: 'name', type: 'json', nullable: true },
            { name: 'email_type', type: 'string', length: 64, nullable: true },
            { name: 'deactivated_at_epoch', type: 'int', nullable: true },
            { name: 'created_at', type: 'timestamp' },
            { name: 'updated_at', type: 'timestamp' },
          ],
          foreignKeys: [{ columns: ['principal_id'], referencedTable: 'identity_principals', referencedColumns: ['id'] }],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_scim_groups',
          columns: [
            { name: 'id', type: 'string', length: 36, primary: true },
            { name: 'display_name', type: 'string', length: 256 },
            { name: 'external_id', type: 'string', length: 256, nullable: true },
            { name: 'created_at', type: 'timestamp' },
            { name: 'updated_at', type: 'timestamp' },
          ],
          indices: [{ name: 'identity_scim_groups_display_name_unique', columns: ['display_name'], unique: true }],
        },
        driver,
      ),
    );
    await runner.createTable(
      portableTable(
        {
          name: 'identity_scim_group_members',
          columns: [
            { name: 'group_id', type: 'string', length: 36, primary: true },
            { name: 'principal_id', type: 'string', length: 128, primary: true },
          ],
          indices: [{ name: 'identity_scim_group_members_principal_id', columns: ['principal_id'] }],
          foreignKeys: [{ columns: ['group_id'], referencedTable: 'identity_scim_groups', referencedColumns: ['id'], onDelete: 'CASCADE' }],
        },
        driver,
      ),
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['identity_scim_group_members', 'identity_scim_groups', 'identity_scim_users', 'identity_scim_tokens']) await runner.dropTable(table);
  }
}
