/**
 * The appliance as an operator runs it: the built apps/realm in a child process, over HTTPS.
 */
import assert from 'node:assert/strict';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { workerExecArgv } from '../src/supervisor.js';
import { createSoftHsmToken, makeTempDir, realmctl, runNode, APPLIANCE_MAIN, startAppliance, testDatabases } from '@realm/testing';

const token = createSoftHsmToken('appliance');
const emptyToken = createSoftHsmToken('appliance-uninit');

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

describe('appliance on its embedded defaults (SQLite, software vault, self-signed certificate)', () => {
  it('serves liveness, readiness, metrics and JSON errors over HTTPS with security headers and request ids', async () => {
    const dataDir = makeTempDir('realm-app-');
    const app = await startAppliance({ REALM_DATA_DIR: dataDir });
    try {
      const live = await app.get('/health/live');
      assert.equal(live.status, 200);
      assert.deepEqual(JSON.parse(live.body), { status: 'ok' });
      assert.match(String(live.headers['strict-transport-security']), /max-age=31536000/);
      assert.match(String(live.headers['content-security-policy']), /default-src 'none'/);
      assert.equal(live.headers['x-content-type-options'], 'nosniff');
      assert.equal(live.headers['x-powered-by'], undefined);
      assert.match(String(live.headers['x-request-id']), /^[0-9a-f-]{36}$/);

      const ready = await app.get('/health/ready');
      assert.equal(ready.status, 200);
      const report = JSON.parse(ready.body) as { status: string; checks: Record<string, { ok: boolean }> };
      assert.equal(report.status, 'ready');
      assert.equal(report.checks.database?.ok, true);
      assert.equal(report.checks.vault?.ok, true);

      const missing = await app.get('/no/such/route?token=query-secret-42', { 'x-request-id': 'trace-abc.123' });
      assert.equal(missing.status, 404);
      assert.equal(missing.headers['x-request-id'], 'trace-abc.123');
      const error = JSON.parse(missing.body) as { error: { code: string; requestId: string } };
      assert.equal(error.error.requestId, 'trace-abc.123');
      assert.equal(missing.body.includes('query-secret-42'), false);
      assert.equal(/at .*\.js:\d+/.test(missing.body), false, 'no stack trace');

      const metrics = await app.get('/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /realm_http_requests_total\{method="GET",route="\/health\/ready",status="200"\} 1/);
      assert.match(metrics.body, /realm_vault_backend_calls\{operation="unwrap"\} \d+/);
      assert.match(metrics.body, /^realm_vault_content_key_opens \d+$/m);
      assert.match(metrics.body, /^realm_vault_opened_content_keys \d+$/m);
      assert.match(metrics.body, /process_cpu_user_seconds_total/);

      await app.untilLogged('for the request with its request id', (l) => l.requestId === 'trace-abc.123');
      assert.equal(JSON.stringify(app.logs).includes('query-secret-42'), false, 'query strings never reach the log');
      assert.ok(app.logs.some((l) => String(l.msg).includes('development only')), 'the start log says the software vault is not for production');
    } finally {
      assert.equal(await app.stop(), 0, 'SIGTERM stops the appliance cleanly, after its shutdown hooks');
    }
    // The shutdown hooks ran: the stop is in the audit log, sealed by a checkpoint, and the log verifies.
    const verify = await realmctl(['audit', 'verify', '--json'], { REALM_DATA_DIR: dataDir });
    assert.equal(verify.code, 0, verify.stderr);
    const report = JSON.parse(verify.stdout) as { ok: boolean; records: number; unsealed: number };
    assert.equal(report.ok, true);
    assert.ok(report.records >= 2, 'at least the start and the stop');
    assert.equal(report.unsealed, 0, 'the stop sealed the log with a checkpoint');
  });

  it('reports not ready while the master key is missing from the vault, and ready again when it is back', async () => {
    const dataDir = makeTempDir('realm-app-');
    const app = await startAppliance({ REALM_DATA_DIR: dataDir });
    try {
      const keyFile = join(dataDir, 'vault', 'master-key-1.bin');
      renameSync(keyFile, `${keyFile}.away`);
      const notReady = await app.get('/health/ready');
      assert.equal(notReady.status, 503);
      const report = JSON.parse(notReady.body) as { status: string; checks: Record<string, { ok: boolean; detail: string }> };
      assert.equal(report.status, 'not-ready');
      assert.equal(report.checks.vault?.ok, false);
      assert.match(report.checks.vault!.detail, /master key generation 1 is missing/);
      assert.equal(report.checks.database?.ok, true);
      renameSync(`${keyFile}.away`, keyFile);
      assert.equal((await app.get('/health/ready')).status, 200);
    } finally {
      await app.stop();
    }
  });
});

for (const database of testDatabases()) {
  describe(`appliance on a PKCS#11 token (SoftHSM2) and ${database.name}`, () => {
    it('starts after `realmctl init`, is ready, and reports the token', async () => {
      const created = await database.create();
      const env = { ...created.env, ...token.env, REALM_VAULT_MASTER_KEY_LABEL: `app-${database.name}` };
      try {
        const init = await realmctl(['init'], env);
        assert.equal(init.code, 0, init.stderr);
        const app = await startAppliance(env);
        try {
          const ready = await app.get('/health/ready');
          assert.equal(ready.status, 200, ready.body);
          assert.match(ready.body, /PKCS#11 token 'appliance' logged in/);
          if (database.name === 'postgres') {
            // The database goes away: not ready; it comes back: ready again.
            const name = new URL(created.url).pathname.slice(1);
            const admin = new pg.Client({ connectionString: process.env.REALM_TEST_POSTGRES_URL });
            await admin.connect();
            try {
              await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
              await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
              const down = await app.get('/health/ready');
              assert.equal(down.status, 503);
              assert.equal((JSON.parse(down.body) as { checks: { database: { ok: boolean } } }).checks.database.ok, false);
              await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
              let status = 0;
              for (let i = 0; i < 20 && status !== 200; i++) status = (await app.get('/health/ready')).status;
              assert.equal(status, 200);
            } finally {
              await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
              await admin.end();
            }
          }
        } finally {
          assert.equal(await app.stop(), 0);
        }
      } finally {
        await created.drop();
      }
    });
  });
}

describe('the appliance refuses to start with one line naming the cause and the setting, and writes nothing', () => {
  const cases: { name: string; env: (dataDir: string) => Record<string, string>; code: number; line: RegExp; secret?: string }[] = [
    { name: 'a bad value', env: () => ({ REALM_HTTP_PORT: 'https' }), code: 2, line: /http\.port \(REALM_HTTP_PORT\) must be an integer/ },
    { name: 'an unknown setting', env: () => ({ REALM_VAULT_BACKND: 'pkcs11' }), code: 2, line: /unknown environment variable REALM_VAULT_BACKND/ },
    { name: 'an unreadable config file', env: (d) => ({ REALM_CONFIG_FILE: join(d, 'nope.json') }), code: 2, line: /cannot read the config file .*nope\.json \(REALM_CONFIG_FILE\): ENOENT/ },
    { name: 'the software vault in production', env: () => ({ REALM_ENV: 'production' }), code: 2, line: /vault\.backend \(REALM_VAULT_BACKEND\) is software, which is refused when env is production/ },
    {
      name: 'a database that is down',
      env: () => ({ REALM_DATABASE_URL: 'postgres://realm:db-password-77@127.0.0.1:1/realm' }),
      code: 1,
      line: /cannot open the database at postgres:\/\/realm:\*\*\*\*@127\.0\.0\.1:1\/realm \(database\.url\): .*ECONNREFUSED/,
      secret: 'db-password-77',
    },
    { name: 'a wrong PIN', env: () => ({ ...token.env, REALM_VAULT_PKCS11_PIN_FILE: '', REALM_VAULT_PKCS11_PIN: '99999999' }), code: 1, line: /refused the PIN \(CKR_PIN_INCORRECT\): check vault\.pkcs11\.pin$/, secret: '99999999' },
    { name: 'an unknown token label', env: () => ({ ...token.env, REALM_VAULT_PKCS11_TOKEN_LABEL: 'missing-token' }), code: 1, line: /no token labelled 'missing-token' .*\(vault\.pkcs11\.tokenLabel\)/ },
    { name: 'a missing PKCS#11 module', env: () => ({ ...token.env, REALM_VAULT_PKCS11_MODULE: '/usr/lib/no-such-pkcs11.so' }), code: 1, line: /cannot load the PKCS#11 module \/usr\/lib\/no-such-pkcs11\.so \(vault\.pkcs11\.module\)/ },
    { name: 'an HSM vault that was never initialised, in production', env: (d) => ({ ...emptyToken.env, REALM_ENV: 'production', REALM_HTTP_TLS_CERT_FILE: join(d, 'c.pem'), REALM_HTTP_TLS_KEY_FILE: join(d, 'k.pem') }), code: 1, line: /the vault has no master key yet: run `realmctl init`/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const dataDir = makeTempDir('realm-refused-');
      const result = await runNode(APPLIANCE_MAIN, [], { REALM_DATA_DIR: dataDir, REALM_LOG_LEVEL: 'silent', ...c.env(dataDir) });
      assert.equal(result.code, c.code, result.stderr);
      const line = oneLine(result.stderr);
      assert.match(line, /^realm: cannot start: /);
      assert.match(line, c.line);
      if (c.secret) assert.equal(result.stderr.includes(c.secret) || result.stdout.includes(c.secret), false, 'the secret is not printed');
      if (c.code === 2 || c.name.includes('PIN') || c.name.includes('token label') || c.name.includes('module')) {
        assert.equal(existsSync(join(dataDir, 'realm.db')), false, 'no database was created');
      }
    });
  }
});

describe('worker processes (http.workers > 1)', () => {
  it('run with a 64 MiB young generation and no pretenuring, unless the operator set either in the flags or NODE_OPTIONS', () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps'], undefined, 2, 4), ['--enable-source-maps', '--max-semi-space-size=64', '--no-allocation-site-pretenuring']);
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=32'], '', 2, 4), ['--max-semi-space-size=32', '--no-allocation-site-pretenuring']);
    assert.deepEqual(workerExecArgv(['--allocation-site-pretenuring'], '--max-old-space-size=4096 --max-semi-space-size=16', 2, 4), ['--allocation-site-pretenuring']);
  });

  it('collect garbage on their own thread when they are as many as the cores, unless the operator chose', () => {
    const defaults = ['--max-semi-space-size=64', '--no-allocation-site-pretenuring'];
    assert.deepEqual(workerExecArgv([], undefined, 2, 2), [...defaults, '--single-threaded-gc']);
    assert.deepEqual(workerExecArgv([], undefined, 4, 2), [...defaults, '--single-threaded-gc']);
    assert.deepEqual(workerExecArgv([], undefined, 3, 4), defaults, 'a spare core is left to the GC helper threads');
    assert.deepEqual(workerExecArgv(['--no-single-threaded-gc'], undefined, 2, 2), ['--no-single-threaded-gc', ...defaults]);
    assert.deepEqual(workerExecArgv([], '--single-threaded-gc', 2, 2), defaults, 'set in NODE_OPTIONS: not repeated');
  });
});
