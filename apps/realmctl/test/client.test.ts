/** `realmctl client create|list|delete` in child processes against real databases. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Database } from '@realm/persistence';
import { REALM_ENTITIES, REALM_MIGRATIONS } from '@realm/realm/runtime';
import { portableSql, realmctl, testConfig, testDatabases } from '@realm/testing';

async function query<T>(env: Record<string, string>, sql: string, params: unknown[] = []): Promise<T> {
  const db = await Database.open(testConfig(env).database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
  try {
    return await db.query<T>(portableSql(db.driver, sql), params);
  } finally {
    await db.close();
  }
}

for (const database of testDatabases()) {
  describe(`realmctl client on ${database.name}`, () => {
    it('creates public and confidential clients, lists them without secrets, deletes them, and audits each change', async () => {
      const created = await database.create();
      const env = created.env;
      try {
        assert.equal((await realmctl(['init'], env)).code, 0);
        const cli = await realmctl(['client', 'create', '--name', 'realm-cli', '--grant', 'device_code', '--grant', 'refresh_token', '--public'], env);
        assert.equal(cli.code, 0, cli.stderr);
        assert.match(cli.stdout, /^created public client realm-cli\nclient_id: [0-9a-f-]{36}\n/);
        assert.doesNotMatch(cli.stdout, /client_secret/);

        const web = await realmctl(['client', 'create', '--name', 'portal', '--redirect-uri', 'https://portal.example.com/cb', '--grant', 'authorization_code'], env);
        assert.equal(web.code, 0, web.stderr);
        const webId = /client_id: ([0-9a-f-]{36})/.exec(web.stdout)![1]!;
        const secret = /client_secret: ([A-Za-z0-9_-]{43}) /.exec(web.stdout)![1]!;
        const rows = await query<{ secret_sha256: string }[]>(env, 'SELECT secret_sha256 FROM identity_oauth_clients WHERE client_id = ?', [webId]);
        assert.match(rows[0]!.secret_sha256, /^[0-9a-f]{64}$/);
        assert.notEqual(rows[0]!.secret_sha256, secret);

        const listed = await realmctl(['client', 'list', '--json'], env);
        assert.equal(listed.code, 0, listed.stderr);
        const clients = JSON.parse(listed.stdout) as { name: string; public: boolean; grantTypes: string[] }[];
        assert.deepEqual(clients.map((c) => [c.name, c.public]), [['portal', false], ['realm-cli', true]]);
        assert.deepEqual(clients[1]!.grantTypes, ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']);
        assert.ok(!listed.stdout.includes(secret) && !listed.stdout.includes(rows[0]!.secret_sha256));

        const duplicate = await realmctl(['client', 'create', '--name', 'portal', '--redirect-uri', 'https://portal.example.com/cb', '--grant', 'authorization_code'], env);
        assert.equal(duplicate.code, 1);
        assert.match(duplicate.stderr, /a client named "portal" already exists/);

        const deleted = await realmctl(['client', 'delete', webId], env);
        assert.equal(deleted.code, 0, deleted.stderr);
        const again = await realmctl(['client', 'delete', webId], env);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /no such OAuth client/);

        const audit = await query<{ body: string }[]>(env, 'SELECT body FROM audit_records ORDER BY seq');
        const actions = audit.map((r) => JSON.parse(r.body) as { action: string; actor: { type: string } }).filter((r) => r.action.startsWith('identity.oauth.client.'));
        assert.deepEqual(actions.map((r) => [r.action, r.actor.type]), [['identity.oauth.client.create', 'operator'], ['identity.oauth.client.create', 'operator'], ['identity.oauth.client.delete', 'operator']]);
        assert.ok(!audit.some((r) => r.body.includes(secret)), 'the secret is never audited');
      } finally {
        await created.drop();
      }
    });

    it('refuses bad input with one line naming the problem', async () => {
      const created = await database.create();
      const env = created.env;
      try {
        assert.equal((await realmctl(['init'], env)).code, 0);
        const cases: [string[], RegExp][] = [
          [['--name', 'x', '--grant', 'password'], /unknown grant "password"/],
          [['--name', 'x', '--grant', 'authorization_code'], /authorization_code needs at least one --redirect-uri/],
          [['--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'http://app.example.com/cb'], /must be https, http to 127\.0\.0\.1/],
          [['--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'https://app.example.com/cb#f'], /has a fragment/],
          [['--name', 'x', '--grant', 'refresh_token'], /refresh_token needs authorization_code or device_code/],
          [['--name', '../x', '--grant', 'device_code'], /a client name must be/],
        ];
        for (const [args, pattern] of cases) {
          const result = await realmctl(['client', 'create', ...args], env);
          assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
          assert.equal(result.stderr.trim().split('\n').length, 1);
          assert.match(result.stderr, pattern);
        }
        assert.equal(((await query<{ n: number | string }[]>(env, 'SELECT COUNT(*) AS n FROM identity_oauth_clients'))[0]!.n).toString(), '0');
      } finally {
        await created.drop();
      }
    });
  });
}
