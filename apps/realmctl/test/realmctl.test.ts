/** realmctl as an operator runs it: the built CLI in child processes, against real databases and tokens. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Database } from '@realm/persistence';
import { REALM_ENTITIES, REALM_MIGRATIONS } from '@realm/realm/runtime';
import { createSoftHsmToken, makeTempDir, portableSql, realmctl, testConfig, testDatabases } from '@realm/testing';
import { KeyVault } from '@realm/vault';
import { AuditLog } from '@realm/audit';

const token = createSoftHsmToken('realmctl');
const backends = [
  { name: 'software', env: {} as Record<string, string> },
  { name: 'pkcs11 (SoftHSM2)', env: token.env },
];

function failedWith(result: { code: number | null; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
}

/** Initialises with the CLI, then appends `extra` audit records in-process (faster than more CLI runs). */
async function initWithRecords(env: Record<string, string>, extra: number): Promise<void> {
  const init = await realmctl(['init'], env);
  assert.equal(init.code, 0, init.stderr);
  const config = testConfig(env);
  const db = await Database.open(config.database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
  const vault = await KeyVault.open(config, db);
  const log = await AuditLog.open(db, vault, { checkpointEvery: 1000, checkpointIntervalSeconds: 3600 });
  for (let i = 0; i < extra; i++) await log.record({ action: 'test.event', outcome: 'success', details: { i } });
  await log.close();
  vault.close();
  await db.close();
}

async function withDatabase(env: Record<string, string>, sql: string, params: unknown[] = []): Promise<unknown> {
  const config = testConfig(env);
  const db = await Database.open(config.database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
  try {
    return await db.query(portableSql(db.driver, sql), params);
  } finally {
    await db.close();
  }
}

for (const database of testDatabases()) {
  for (const backend of backends) {
    describe(`realmctl: ${backend.name} on ${database.name}`, () => {
      it('init creates the master key and is safe to run twice; status shows it with secrets masked', async () => {
        const created = await database.create();
        const env = { ...created.env, ...backend.env, REALM_VAULT_MASTER_KEY_LABEL: `ctl-${database.name}-1` };
        try {
          const first = await realmctl(['init'], env);
          assert.equal(first.code, 0, first.stderr);
          assert.match(first.stdout, /^initialised: master key 'ctl-\w+-1' generation 1 created/);
          const second = await realmctl(['init'], env);
          assert.equal(second.code, 0, second.stderr);
          assert.match(second.stdout, /^already initialised: master key generation 1 is active .*; nothing changed/);

          // The PIN given inline must never be printed, nor the database password.
          const statusEnv = backend.name === 'software' ? env : { ...env, REALM_VAULT_PKCS11_PIN_FILE: '', REALM_VAULT_PKCS11_PIN: token.pin };
          const status = await realmctl(['status'], statusEnv);
          assert.equal(status.code, 0, status.stderr);
          assert.match(status.stdout, /vault: ok/);
          assert.match(status.stdout, /master key generation 1: active, 1 KEKs/);
          assert.match(status.stdout, /audit: intact/);
          assert.match(status.stdout, /^healthy$/m);
          if (backend.name !== 'software') {
            assert.match(status.stdout, /vault\.pkcs11\.pin = \*\*\*\*/);
            assert.match(status.stdout, /token attributes: .*extractable=false sensitive=true/);
            assert.equal(status.stdout.includes(token.pin), false, 'the PIN is never printed');
          }
          const json = JSON.parse((await realmctl(['status', '--json'], statusEnv)).stdout) as { healthy: boolean; config: { database: { url: string } } };
          assert.equal(json.healthy, true);
          const password = new URL(created.url).password;
          if (password) assert.equal(json.config.database.url.includes(password), false);

          const actions = (await withDatabase(env, "SELECT action FROM audit_records WHERE action = 'vault.initialize'")) as unknown[];
          assert.equal(actions.length, 2, 'each init is audited');
        } finally {
          await created.drop();
        }
      });

      it('rotates the master key (keys stay readable), retires the old generation, and refuses what the state does not allow', async () => {
        const created = await database.create();
        const env = { ...created.env, ...backend.env, REALM_VAULT_MASTER_KEY_LABEL: `ctl-${database.name}-2` };
        try {
          failedWith(await realmctl(['vault', 'rotate-master'], env), 1, /run `realmctl init`/);
          assert.equal((await realmctl(['init'], env)).code, 0);

          const uris = [randomUUID(), randomUUID()].map((id) => `kms://kms.realm.test/keys/${id}`);
          const config = testConfig(env);
          const db = await Database.open(config.database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
          const before = await KeyVault.open(config, db);
          const keys = await before.createKeys(uris);
          before.close();

          failedWith(await realmctl(['vault', 'retire-master', '1'], env), 1, /generation 1 is active: only an inactive generation/);
          const rotate = await realmctl(['vault', 'rotate-master', '--batch-size', '1'], env);
          assert.equal(rotate.code, 0, rotate.stderr);
          assert.match(rotate.stdout, /rotation complete: master key generation 2 is active, 1 KEKs re-wrapped; generation 1 is inactive/);
          const retire = await realmctl(['vault', 'retire-master', '1'], env);
          assert.equal(retire.code, 0, retire.stderr);
          assert.match(retire.stdout, /generation 1 retired/);
          assert.match((await realmctl(['status'], env)).stdout, /generation 1: retired[\s\S]*generation 2: active/);

          const after = await KeyVault.open(config, db);
          assert.deepEqual(await after.getKeys(uris), new Map(uris.map((u, i) => [u, keys[i]!])));
          assert.equal(after.backend.hasMasterKey(1), false);
          after.close();
          await db.close();

          const audited = (await withDatabase(env, "SELECT action, outcome FROM audit_records WHERE action LIKE 'vault.master.%' ORDER BY seq")) as { action: string; outcome: string }[];
          assert.deepEqual(audited.map((a) => `${a.action}:${a.outcome}`), ['vault.master.retire:failure', 'vault.master.rotate:success', 'vault.master.retire:success']);
        } finally {
          await created.drop();
        }
      });

      it('audit verify passes on an intact log and names the first edited, deleted or reordered record by position', async () => {
        const tampers = [
          ['edit', (s: number[]) => [`UPDATE audit_records SET body = REPLACE(body, '"i":1', '"i":7') WHERE seq = ${s[1]}`], (s: number[]) => new RegExp(`^realmctl: audit log TAMPERED: record at position ${s[1]}: was edited: its contents do not match its hash$`)],
          ['delete', (s: number[]) => [`DELETE FROM audit_records WHERE seq = ${s[1]}`], (s: number[]) => new RegExp(`^realmctl: audit log TAMPERED: record at position ${s[1]}: record ${s[1]} is missing before it$`)],
          ['reorder', (s: number[]) => [`UPDATE audit_records SET seq = 100000 WHERE seq = ${s[1]}`, `UPDATE audit_records SET seq = ${s[1]} WHERE seq = ${s[2]}`, `UPDATE audit_records SET seq = ${s[2]} WHERE seq = 100000`], (s: number[]) => new RegExp(`^realmctl: audit log TAMPERED: record at position ${s[1]}: holds record ${s[2]}`)],
        ] as const;
        for (const [name, tamper, pattern] of tampers) {
          const created = await database.create();
          const env = { ...created.env, ...backend.env, REALM_VAULT_MASTER_KEY_LABEL: `ctl-${database.name}-${name}` };
          try {
            await initWithRecords(env, 4);
            const total = Number(((await withDatabase(env, 'SELECT COUNT(*) AS n FROM audit_records')) as { n: number | string }[])[0]!.n);
            const ok = await realmctl(['audit', 'verify'], env);
            assert.equal(ok.code, 0, ok.stderr);
            assert.match(ok.stdout, new RegExp(`audit log intact: ${total} records`));
            // Positions of the records this test wrote (initialisation writes its own before them).
            const seqs = ((await withDatabase(env, "SELECT seq FROM audit_records WHERE action = 'test.event' ORDER BY seq")) as { seq: number | string }[]).map((r) => Number(r.seq));
            for (const statement of tamper(seqs)) await withDatabase(env, statement);
            failedWith(await realmctl(['audit', 'verify'], env), 1, pattern(seqs));
            if (name === 'edit') {
              const json = await realmctl(['audit', 'verify', '--json'], env);
              assert.equal(json.code, 1);
              assert.deepEqual((JSON.parse(json.stdout) as { problem: unknown }).problem, { kind: 'edited', position: seqs[1], message: `record at position ${seqs[1]}: was edited: its contents do not match its hash` });
            }
          } finally {
            await created.drop();
          }
        }
      });
    });
  }
}

describe('realmctl failures are one line and a non-zero exit', () => {
  it('names the setting for a bad configuration (exit 2) and masks the password of an unreachable database (exit 1)', async () => {
    const dataDir = makeTempDir('realmctl-');
    failedWith(await realmctl(['status'], { REALM_DATA_DIR: dataDir, REALM_VAULT_KEK_EPOCH: 'often' }), 2, /vault\.kekEpoch \(REALM_VAULT_KEK_EPOCH\) must be a duration/);
    const down = await realmctl(['status'], { REALM_DATA_DIR: dataDir, REALM_DATABASE_URL: 'postgres://ops:pw-secret-9@127.0.0.1:1/realm' });
    failedWith(down, 1, /cannot open the database at postgres:\/\/ops:\*\*\*\*@127\.0\.0\.1:1\/realm \(database\.url\)/);
    assert.equal(down.stdout.includes('pw-secret-9') || down.stderr.includes('pw-secret-9'), false);
    assert.match(down.stdout, /NOT healthy/);
  });

  it('names the module setting when the PKCS#11 module is missing', async () => {
    failedWith(
      await realmctl(['init'], { REALM_DATA_DIR: makeTempDir('realmctl-'), ...token.env, REALM_VAULT_PKCS11_MODULE: '/nonexistent/libpkcs11.so' }),
      1,
      /cannot load the PKCS#11 module \/nonexistent\/libpkcs11\.so \(vault\.pkcs11\.module\)/,
    );
  });

  it('refuses unknown commands and bad arguments (exit 2)', async () => {
    const env = { REALM_DATA_DIR: makeTempDir('realmctl-') };
    failedWith(await realmctl(['vault', 'explode'], env), 2, /unknown command 'explode'/);
    failedWith(await realmctl(['vault', 'retire-master', 'one'], env), 2, /must be a positive integer/);
  });
});
