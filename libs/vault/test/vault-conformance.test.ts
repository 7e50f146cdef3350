/**
 * The vault conformance suite: the same properties, checked against every backend (software and a
 * real SoftHSM2 token) on every database (SQLite, and PostgreSQL when REALM_TEST_POSTGRES_URL is
 * set).
 */
import assert from 'node:assert/strict';
import { constants, createHash, publicEncrypt, randomBytes, randomUUID, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createSoftHsmToken, portableSql, testDatabases } from '@realm/testing';
import { KeyVault, Pkcs11MasterKeyBackend, VaultError } from '../src/index.js';
import { openVault, type VaultFixture } from './helpers.js';

// SoftHSM2 reads its configuration at C_Initialize (once per process): create the token first.
const token = createSoftHsmToken('vault-conformance');
const backends = [
  { name: 'software', env: {} as Record<string, string> },
  { name: 'pkcs11 (SoftHSM2)', env: token.env },
];
const EPOCH_SECONDS = 3600;
const keyUri = () => `kms://kms.realm.test/keys/${randomUUID()}`;

function isVaultError(code: VaultError['code']) {
  return (error: unknown) => error instanceof VaultError && error.code === code;
}

for (const database of testDatabases()) {
  for (const backend of backends) {
    describe(`key vault: ${backend.name} backend on ${database.name}`, () => {
      let now = Date.UTC(2026, 10, 22, 12);
      const clock = () => now;
      let drop: () => Promise<void>;
      let fx: VaultFixture;

      before(async () => {
        const created = await database.create();
        drop = created.drop;
        fx = await openVault(
          { ...created.env, ...backend.env, REALM_VAULT_KEK_EPOCH: `${EPOCH_SECONDS}s`, REALM_VAULT_MASTER_KEY_LABEL: `mk-${database.name}` },
          { clock },
        );
      });
      after(async () => {
        await fx.close();
        await drop();
      });

      it('refuses content-key operations before initialisation', async () => {
        assert.equal(await fx.vault.isInitialized(), false);
        await assert.rejects(fx.vault.createKey(keyUri()), isVaultError('VAULT_NOT_INITIALIZED'));
      });

      it('initialises once: master key generation 1 and the first KEK; a second run changes nothing', async () => {
        assert.deepEqual(await fx.vault.initialize(), { created: true, generation: 1 });
        assert.deepEqual(await fx.vault.initialize(), { created: false, generation: 1 });
        const status = await fx.vault.status();
        assert.deepEqual(
          status.masterKeys.map((m) => [m.generation, m.state, m.keks]),
          [[1, 'active', 1]],
        );
        assert.equal(fx.vault.backend.hasMasterKey(1), true);
      });

      it('creates 256-bit content keys and returns the same bytes later', async () => {
        const uris = [keyUri(), keyUri(), keyUri()];
        const keys = await fx.vault.createKeys(uris);
        assert.equal(new Set(keys.map((k) => k.toString('hex'))).size, 3);
        for (const [i, uri] of uris.entries()) {
          assert.equal(keys[i]!.length, 32);
          assert.deepEqual(await fx.vault.getKey(uri), keys[i]);
        }
        const fresh = await fx.reopen();
        assert.deepEqual(await fresh.getKeys(uris), new Map(uris.map((u, i) => [u, keys[i]!])));
        assert.equal(await fx.vault.getKey(keyUri()), undefined);
        await assert.rejects(fx.vault.createKey(uris[0]!), isVaultError('VAULT_KEY_EXISTS'));
      });

      it('binds each sealed key to its URI: a row copied onto another URI does not open', async () => {
        const uri = keyUri();
        await fx.vault.createKey(uri);
        const stolen = keyUri();
        await fx.db.query(portableSql(fx.db.driver, 'INSERT INTO vault_keys (uri, kek_id, sealed, created_at) SELECT ?, kek_id, sealed, created_at FROM vault_keys WHERE uri = ?'), [stolen, uri]);
        await assert.rejects(fx.vault.getKey(stolen), isVaultError('VAULT_UNWRAP_FAILED'));
      });

      it('refuses a sealed key whose bytes were altered', async () => {
        const uri = keyUri();
        await fx.vault.createKey(uri);
        const [row] = await fx.db.query<{ sealed: Buffer }[]>(portableSql(fx.db.driver, 'SELECT sealed FROM vault_keys WHERE uri = ?'), [uri]);
        const tampered = Buffer.from(row!.sealed);
        tampered[20]! ^= 0x01;
        await fx.db.query(portableSql(fx.db.driver, 'UPDATE vault_keys SET sealed = ? WHERE uri = ?'), [tampered, uri]);
        await assert.rejects(fx.vault.getKey(uri), isVaultError('VAULT_UNWRAP_FAILED'));
      });

      it('refuses a tampered wrapped KEK blob at the backend (RFC 5649 integrity check)', () => {
        const kek = Buffer.alloc(32, 7);
        const wrapped = fx.vault.backend.wrapKey(1, kek);
        assert.equal(wrapped.length, 40);
        assert.deepEqual(fx.vault.backend.unwrapKey(1, wrapped), kek);
        for (const index of [0, 17, 39]) {
          const tampered = Buffer.from(wrapped);
          tampered[index]! ^= 0x80;
          assert.throws(() => fx.vault.backend.unwrapKey(1, tampered), isVaultError('VAULT_UNWRAP_FAILED'));
        }
        assert.throws(() => fx.vault.backend.unwrapKey(1, wrapped.subarray(0, 32)), isVaultError('VAULT_UNWRAP_FAILED'));
      });

      it('caches unwrapped KEKs: content-key operations do not touch the backend again', async () => {
        const fresh = await fx.reopen();
        const uris = Array.from({ length: 50 }, keyUri);
        await fresh.createKeys(uris);
        const afterFirst = fresh.counters.backendUnwraps;
        assert.ok(afterFirst >= 1, 'the KEK was unwrapped once');
        for (const uri of uris) await fresh.getKey(uri);
        await fresh.createKeys(Array.from({ length: 50 }, keyUri));
        assert.equal(fresh.counters.backendUnwraps, afterFirst);
        assert.equal(fresh.counters.backendWraps, 0);
      });

      it('creates a new KEK per epoch and keeps older keys readable', async () => {
        const before = (await fx.vault.status()).masterKeys[0]!.keks;
        const oldUri = keyUri();
        const oldKey = await fx.vault.createKey(oldUri);
        now += EPOCH_SECONDS * 1000;
        const newUri = keyUri();
        await fx.vault.createKey(newUri);
        now += EPOCH_SECONDS * 1000;
        await fx.vault.createKey(keyUri());
        assert.equal((await fx.vault.status()).masterKeys[0]!.keks, before + 2);
        const kekIds = await fx.db.query<{ kek_id: string }[]>(portableSql(fx.db.driver, 'SELECT kek_id FROM vault_keys WHERE uri IN (?, ?)'), [oldUri, newUri]);
        assert.equal(new Set(kekIds.map((r) => r.kek_id)).size, 2, 'the two keys are under different KEKs');
        assert.deepEqual(await (await fx.reopen()).getKey(oldUri), oldKey);
      });

      it('creates one KEK per epoch when several nodes need it at the same moment', async () => {
        now += EPOCH_SECONDS * 1000;
        const nodes = await Promise.all([fx.reopen({ clock }), fx.reopen({ clock }), fx.reopen({ clock })]);
        await Promise.all(nodes.map((node) => node.createKeys([keyUri(), keyUri()])));
        const epoch = Math.floor(now / 1000 / EPOCH_SECONDS);
        const [row] = await fx.db.query<{ n: number | string }[]>(portableSql(fx.db.driver, 'SELECT COUNT(*) AS n FROM vault_keks WHERE epoch = ?'), [epoch]);
        assert.equal(Number(row!.n), 1);
      });

      it('rotates the master key by re-wrapping KEKs only; an interrupted rotation resumes; the old generation can then be retired', async () => {
        const uris = Array.from({ length: 5 }, keyUri);
        const keys: Buffer[] = [];
        for (const uri of uris) {
          keys.push(await fx.vault.createKey(uri));
          now += EPOCH_SECONDS * 1000;
        }
        const sealedBefore = await fx.db.query<{ uri: string; sealed: Buffer }[]>('SELECT uri, sealed FROM vault_keys ORDER BY uri');
        const kekTotal = (await fx.vault.status()).masterKeys[0]!.keks;

        const first = await fx.vault.rotateMaster({ stopAfter: 2, batchSize: 1 });
        assert.deepEqual({ ...first }, { fromGeneration: 1, toGeneration: 2, rewrapped: 2, remaining: kekTotal - 2, completed: false });
        assert.deepEqual((await fx.vault.status()).masterKeys.map((m) => [m.generation, m.state]), [[1, 'active'], [2, 'pending']]);
        // Mid-rotation, KEKs under both generations open, and new KEKs go under the new generation.
        const midway = await fx.reopen();
        for (const [i, uri] of uris.entries()) assert.deepEqual(await midway.getKey(uri), keys[i]);
        await assert.rejects(fx.vault.retireMaster(1), isVaultError('VAULT_ROTATION_STATE'));

        const resumed = await fx.vault.rotateMaster();
        assert.equal(resumed.completed, true);
        assert.equal(resumed.toGeneration, 2);
        assert.equal(first.rewrapped + resumed.rewrapped, kekTotal, 'each KEK re-wrapped exactly once');
        const status = await fx.vault.status();
        assert.deepEqual(status.masterKeys.map((m) => [m.generation, m.state, m.keks]), [[1, 'inactive', 0], [2, 'active', status.masterKeys[1]!.keks]]);
        assert.deepEqual(await fx.db.query('SELECT uri, sealed FROM vault_keys ORDER BY uri'), sealedBefore, 'content keys are not touched');

        await assert.rejects(fx.vault.retireMaster(2), isVaultError('VAULT_ROTATION_STATE'));
        await fx.vault.retireMaster(1);
        assert.equal(fx.vault.backend.hasMasterKey(1), false, 'generation 1 is destroyed in the backend');
        assert.deepEqual((await fx.vault.status()).masterKeys.map((m) => m.state), ['retired', 'active']);
        const cold = await fx.reopen();
        for (const [i, uri] of uris.entries()) assert.deepEqual(await cold.getKey(uri), keys[i]);
        assert.deepEqual(await (await fx.reopen()).initialize(), { created: false, generation: 2 });
      });

      it('keeps RSA private keys in the vault: OAEP decryption and PSS signatures work, the private half never comes out', async () => {
        const uri = `kms://kms.realm.test/statickeys/${randomUUID()}`;
        const publicKey = await fx.vault.rsaKeys.create(uri, 2048);
        assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, 2048);
        // JWE RSA-OAEP (RFC 7518 §4.3) is OAEP with SHA-1; SoftHSM2 2.6 implements no other OAEP hash.
        const hashes = fx.vault.backend instanceof Pkcs11MasterKeyBackend ? (['sha1'] as const) : (['sha1', 'sha256'] as const);
        for (const hash of hashes) {
          const secret = randomBytes(32);
          const ciphertext = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, secret);
          assert.deepEqual(await fx.vault.rsaKeys.oaepDecrypt(uri, ciphertext, hash), secret);
        }
        const data = Buffer.from('signing input');
        const signature = await fx.vault.rsaKeys.pssSha256Sign(uri, data);
        assert.equal(verify('sha256', data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature), true);
        const pkcs1 = await fx.vault.rsaKeys.pkcs1Sha256Sign(uri, data);
        assert.equal(verify('sha256', data, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, pkcs1), true);
        // Another process (a fresh vault) uses the same key pair.
        const other = await fx.reopen();
        assert.equal((await other.rsaKeys.publicKey(uri))?.export({ format: 'jwk' }).n, publicKey.export({ format: 'jwk' }).n);
        const again = randomBytes(32);
        assert.deepEqual(await other.rsaKeys.oaepDecrypt(uri, publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, again), 'sha1'), again);
        await assert.rejects(fx.vault.rsaKeys.oaepDecrypt(uri, randomBytes(256), 'sha1'), isVaultError('VAULT_UNWRAP_FAILED'));
        await assert.rejects(fx.vault.rsaKeys.create(uri), isVaultError('VAULT_KEY_EXISTS'));
        await assert.rejects(fx.vault.rsaKeys.pssSha256Sign(`${uri}-missing`, data), isVaultError('VAULT_KEY_NOT_FOUND'));
        await assert.rejects(fx.vault.rsaKeys.create(`${uri}-small`, 1024), isVaultError('VAULT_INVALID_ARGUMENT'));
        if (fx.vault.backend instanceof Pkcs11MasterKeyBackend) {
          const tokenId = createHash('sha256').update(uri).digest().subarray(0, 16);
          assert.deepEqual(fx.vault.backend.inspectPrivateKey(tokenId), { sensitive: true, extractable: false });
          const [row] = await fx.db.query<{ n: number | string }[]>(portableSql(fx.db.driver, 'SELECT COUNT(*) AS n FROM vault_keys WHERE uri = ?'), [uri]);
          assert.equal(Number(row!.n), 0, 'nothing of the private key is in the database');
        }
      });

      it('refuses to open when the backend holds a different master key than the database expects', async () => {
        const other = await fx.reopen();
        other.backend.close();
        const impostor = KeyVault.open(fx.config, fx.db, {
          backend: {
            ...fx.vault.backend,
            kind: fx.vault.backend.kind,
            hasMasterKey: () => true,
            unwrapKey: () => {
              throw new VaultError('VAULT_UNWRAP_FAILED', 'refused');
            },
            close: () => undefined,
          },
        });
        await assert.rejects(impostor, (error: unknown) => error instanceof VaultError && error.code === 'VAULT_MASTER_KEY_MISMATCH' && error.setting === 'vault.masterKeyLabel');
      });
    });
  }
}
