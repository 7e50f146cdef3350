/**
 * The opened content keys the vault keeps for permanent keys (vault.contentKeyCacheSize,
 * vault.contentKeyCacheIdle): a key read again soon is not opened with its KEK again; the cache is
 * bounded, idles out, gives callers copies, and is off at size 0.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { testDatabases } from '@realm/testing';
import { openVault, type VaultFixture } from './helpers.js';

const IDLE_SECONDS = 60;
const keyUri = () => `kms://kms.realm.test/keys/${randomUUID()}`;

describe('opened content keys of permanent keys', () => {
  let now = Date.UTC(2026, 11, 1, 12);
  const clock = () => now;
  let drop: () => Promise<void>;
  let fx: VaultFixture;
  let env: Record<string, string>;

  before(async () => {
    const created = await testDatabases()[0]!.create();
    drop = created.drop;
    env = { ...created.env, REALM_VAULT_CONTENT_KEY_CACHE_SIZE: '3', REALM_VAULT_CONTENT_KEY_CACHE_IDLE: `${IDLE_SECONDS}s` };
    fx = await openVault(env, { clock });
    await fx.vault.initialize();
  });
  after(async () => {
    await fx.close();
    await drop();
  });

  const opens = (vault = fx.vault) => vault.counters.contentKeyOpens;

  it('opens a key once, then serves it from memory until it idles out', async () => {
    const vault = await fx.reopen();
    const uris = [keyUri(), keyUri()];
    const created = await fx.vault.createKeys(uris);
    const first = await vault.getPermanentKeys(uris);
    assert.equal(opens(vault), 2);
    now += (IDLE_SECONDS - 1) * 1000;
    const again = await vault.getPermanentKeys(uris);
    assert.equal(opens(vault), 2, 'read again within the idle time: not opened again');
    assert.deepEqual([...again], [...first]);
    assert.deepEqual(uris.map((u) => again.get(u)), created);
    // Each use restarts the idle time; one full idle time without use, and the key is opened again.
    now += (IDLE_SECONDS - 1) * 1000;
    await vault.getPermanentKeys([uris[0]!]);
    assert.equal(opens(vault), 2);
    now += IDLE_SECONDS * 1000;
    assert.deepEqual((await vault.getPermanentKeys(uris)).get(uris[1]!), created[1]);
    assert.equal(opens(vault), 4);
  });

  it('wipes idle keys on its sweep', async () => {
    const vault = await fx.reopen();
    const uris = [keyUri(), keyUri()];
    await fx.vault.createKeys(uris);
    await vault.getPermanentKeys(uris);
    assert.equal(vault.openedKeyCount, 2);
    now += 10_000;
    await vault.getPermanentKeys([uris[1]!]);
    now += (IDLE_SECONDS - 5) * 1000;
    vault.wipeIdleKeys();
    assert.equal(vault.openedKeyCount, 1, 'the key used 10 s later is still within its idle time');
    now += 5_000;
    vault.wipeIdleKeys();
    assert.equal(vault.openedKeyCount, 0);
    vault.close();
  });

  it('keeps at most vault.contentKeyCacheSize keys, evicting the least recently used', async () => {
    const vault = await fx.reopen();
    const uris = [keyUri(), keyUri(), keyUri(), keyUri()];
    await fx.vault.createKeys(uris);
    await vault.getPermanentKeys(uris.slice(0, 3));
    await vault.getPermanentKeys([uris[0]!]);
    await vault.getPermanentKeys([uris[3]!]);
    assert.equal(vault.openedKeyCount, 3);
    assert.equal(opens(vault), 4);
    // uris[1] was the least recently used: evicted, so opened again; uris[0] was kept.
    await vault.getPermanentKeys([uris[0]!]);
    assert.equal(opens(vault), 4);
    await vault.getPermanentKeys([uris[1]!]);
    assert.equal(opens(vault), 5);
  });

  it('gives each caller a copy: changing it does not change the key kept', async () => {
    const vault = await fx.reopen();
    const uri = keyUri();
    const [created] = await fx.vault.createKeys([uri]);
    const mine = (await vault.getPermanentKeys([uri])).get(uri)!;
    mine.fill(0);
    const kept = (await vault.getPermanentKeys([uri])).get(uri)!;
    assert.equal(opens(vault), 1);
    assert.deepEqual(kept, created);
    kept.fill(0xff);
    assert.deepEqual((await vault.getPermanentKeys([uri])).get(uri), created);
  });

  it('keeps nothing at size 0: every read opens the key', async () => {
    const off = await openVault({ ...env, REALM_VAULT_CONTENT_KEY_CACHE_SIZE: '0' }, { clock });
    try {
      const uri = keyUri();
      const [created] = await fx.vault.createKeys([uri]);
      for (let i = 1; i <= 3; i++) {
        assert.deepEqual((await off.vault.getPermanentKeys([uri])).get(uri), created);
        assert.equal(opens(off.vault), i);
      }
      assert.equal(off.vault.openedKeyCount, 0);
    } finally {
      await off.close();
    }
  });

  it('wipes every opened key when the vault closes', async () => {
    const vault = await fx.reopen();
    const uri = keyUri();
    await fx.vault.createKeys([uri]);
    await vault.getPermanentKeys([uri]);
    assert.equal(vault.openedKeyCount, 1);
    vault.close();
    assert.equal(vault.openedKeyCount, 0);
  });
});
