/** realmctl scim token create / list / revoke, run as an operator runs them, on every database. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '@realm/audit';
import { ScimTokenService, ScimUnauthorizedError } from '@realm/identity';
import { Database } from '@realm/persistence';
import { REALM_ENTITIES, REALM_MIGRATIONS } from '@realm/realm/runtime';
import { realmctl, testConfig, testDatabases } from '@realm/testing';
import { KeyVault } from '@realm/vault';

for (const database of testDatabases()) {
  describe(`realmctl scim token on ${database.name}`, () => {
    let env: Record<string, string>;
    let drop: () => Promise<void>;

    before(async () => {
      const created = await database.create();
      env = created.env;
      drop = created.drop;
      const init = await realmctl(['init'], env);
      assert.equal(init.code, 0, init.stderr);
    });
    after(async () => {
      await drop();
    });

    /** The appliance's view: the token service over the same database. */
    async function withTokens<T>(work: (tokens: ScimTokenService, db: Database) => Promise<T>): Promise<T> {
      const config = testConfig(env);
      const db = await Database.open(config.database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
      const vault = await KeyVault.open(config, db);
      const audit = await AuditLog.open(db, vault, { checkpointEvery: 1000, checkpointIntervalSeconds: 3600 });
      try {
        return await work(new ScimTokenService(db, audit), db);
      } finally {
        await audit.close();
        vault.close();
        await db.close();
      }
    }

    it('prints a token once, keeps only its SHA-256, lists it without it, and revokes it', async () => {
      const created = await realmctl(['scim', 'token', 'create', '--name', 'entra'], env);
      assert.equal(created.code, 0, created.stderr);
      const lines = created.stdout.trim().split('\n');
      assert.equal(lines.length, 2);
      const id = /^created SCIM token ([0-9a-f]{32}) \(entra\)/.exec(lines[0]!)?.[1];
      assert.ok(id, lines[0]);
      const token = lines[1]!;
      assert.match(token, new RegExp(`^realm-scim_${id}_[A-Za-z0-9_-]{43}$`));

      const stored = await withTokens(async (tokens, db) => {
        assert.deepEqual(await tokens.authenticate(`Bearer ${token}`), { tokenId: id, name: 'entra' });
        const rows = await db.query<{ hash_sha256: string }[]>('SELECT hash_sha256 FROM identity_scim_tokens');
        const audit = await db.query<{ body: string }[]>('SELECT body FROM audit_records');
        return { rows, audit: audit.map((r) => r.body).join('\n') };
      });
      assert.deepEqual(
        stored.rows.map((r) => r.hash_sha256),
        [createHash('sha256').update(token).digest('hex')],
      );
      assert.equal(stored.audit.includes(token), false, 'the token is not in the audit log');
      assert.equal(stored.audit.includes(token.slice(-43)), false, 'nor its secret part');
      assert.match(stored.audit, /"action":"identity\.scim\.token\.create"/);

      const listed = await realmctl(['scim', 'token', 'list', '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout.includes(token.slice(-43)), false);
      const list = JSON.parse(listed.stdout) as { id: string; name: string; revokedAt: string | null }[];
      assert.deepEqual(list.map((t) => [t.id, t.name, t.revokedAt]), [[id, 'entra', null]]);

      const revoked = await realmctl(['scim', 'token', 'revoke', id], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`^revoked SCIM token ${id} \\(entra\\)`));
      await withTokens(async (tokens) => {
        await assert.rejects(tokens.authenticate(`Bearer ${token}`), (error: unknown) => error instanceof ScimUnauthorizedError && /revoked/.test(String((error.cause as Error).message)));
      });
      assert.match((await realmctl(['scim', 'token', 'list'], env)).stdout, new RegExp(`^${id}  entra  created \\S+  revoked \\S+$`, 'm'));
    });

    // The last line: importing oidc-provider may print a runtime warning first (Node.js < 22).
    const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

    it('refuses a bad name and an unknown id with a one-line reason', async () => {
      const badName = await realmctl(['scim', 'token', 'create', '--name', '-\u0007'], env);
      assert.equal(badName.code, 1);
      assert.match(lastLine(badName.stderr), /^realmctl: IDENTITY_INVALID_ARGUMENT: a SCIM token name must be/);
      const unknown = await realmctl(['scim', 'token', 'revoke', '0'.repeat(32)], env);
      assert.equal(unknown.code, 1);
      assert.match(lastLine(unknown.stderr), /^realmctl: IDENTITY_SCIM_NOT_FOUND: no SCIM token has the id 0{32}$/);
    });
  });
}
