/** PKCS#11 specifics, against real SoftHSM2 tokens created for this process. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { aesKeyWrapPad } from '@realm/crypto';
import { createSoftHsmToken, testConfig, testDatabases } from '@realm/testing';
import { KeyVault, Pkcs11MasterKeyBackend, VaultError } from '../src/index.js';
import { openVault, type VaultFixture } from './helpers.js';

const token = createSoftHsmToken('pkcs11-suite');
const lockout = createSoftHsmToken('wrong-pin-target');
const [sqlite] = testDatabases();

function vaultError(code: VaultError['code'], pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof VaultError, `expected VaultError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.equal(error.message.includes('\n'), false);
    return true;
  };
}

describe('PKCS#11 backend on SoftHSM2', () => {
  let fx: VaultFixture;
  let backend: Pkcs11MasterKeyBackend;

  before(async () => {
    fx = await openVault({ ...(await sqlite!.create()).env, ...token.env });
    await fx.vault.initialize();
    backend = fx.vault.backend as Pkcs11MasterKeyBackend;
  });
  after(() => fx.close());

  it('generated the master key inside the token as non-extractable and sensitive (read back from the token)', () => {
    const attributes = backend.inspectMasterKey(1);
    assert.equal(attributes.extractable, false, 'CKA_EXTRACTABLE');
    assert.equal(attributes.sensitive, true, 'CKA_SENSITIVE');
    assert.equal(attributes.neverExtractable, true, 'CKA_NEVER_EXTRACTABLE');
    assert.equal(attributes.alwaysSensitive, true, 'CKA_ALWAYS_SENSITIVE');
    assert.equal(attributes.token, true, 'CKA_TOKEN');
    assert.equal(attributes.valueLen, 32, 'AES-256');
    assert.equal(attributes.label, 'realm-master');
    assert.equal(attributes.id, '1');
  });

  it('cannot read or export the master key value', () => {
    assert.throws(() =>
      backend.token.run('read-attributes', (library, session) => {
        const handle = backend.token.findObject(session, "master key 'realm-master' generation 1", [
          { type: pkcs11js.CKA_LABEL, value: 'realm-master' },
          { type: pkcs11js.CKA_ID, value: Buffer.from('1') },
        ])!;
        return library.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }]);
      }),
    /CKR_ATTRIBUTE_SENSITIVE|VAULT_HSM_ERROR|CKR_/);
  });

  it("wraps 256-bit keys exactly as RFC 5649 does (the token's CKM_AES_KEY_WRAP_PAD against node:crypto's id-aes256-wrap-pad)", () => {
    // SoftHSM2 2.6.1 agrees with RFC 5649 for keys whose length is a multiple of 8 bytes, the only
    // keys the vault wraps (32-byte KEKs). For other lengths (the RFC 5649 §6 vectors: 20 and 7
    // bytes) it produces other bytes, and it has no CKM_AES_KEY_WRAP_KWP: see hsm-config/README.md.
    for (let i = 0; i < 8; i++) {
      const kek = randomBytes(32);
      const key = randomBytes(32);
      const wrapped = backend.token.run('wrap', (library, session) => {
        const object = (value: Buffer, wrap: boolean) =>
          library.C_CreateObject(session, [
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
            { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
            { type: pkcs11js.CKA_TOKEN, value: false },
            { type: pkcs11js.CKA_EXTRACTABLE, value: true },
            { type: pkcs11js.CKA_WRAP, value: wrap },
            { type: pkcs11js.CKA_VALUE, value },
          ]);
        const wrappingKey = object(kek, true);
        const target = object(key, false);
        try {
          return Buffer.from(library.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, wrappingKey, target, Buffer.alloc(64)));
        } finally {
          library.C_DestroyObject(session, wrappingKey);
          library.C_DestroyObject(session, target);
        }
      });
      assert.equal(wrapped.toString('hex'), aesKeyWrapPad(kek, key).toString('hex'));
    }
  });

  it('re-opens a lost session and retries the operation', () => {
    const kek = Buffer.alloc(32, 9);
    const wrapped = backend.wrapKey(1, kek);
    const before = backend.token.reopenCount;
    const library = backend.token.library;
    for (const slot of library.C_GetSlotList(true)) {
      if (library.C_GetTokenInfo(slot).label.trim() === token.label) library.C_CloseAllSessions(slot);
    }
    assert.deepEqual(backend.unwrapKey(1, wrapped), kek);
    assert.equal(backend.token.reopenCount, before + 1);
    assert.equal(backend.health().ok, true);
  });

  it('refuses a wrong PIN with one line naming the PIN setting', () => {
    const config = testConfig({ ...lockout.env, REALM_VAULT_PKCS11_PIN_FILE: '', REALM_VAULT_PKCS11_PIN: '000000' });
    assert.throws(() => new Pkcs11MasterKeyBackend(config.vault.pkcs11!, 'realm-master').open(), vaultError('VAULT_PIN_INCORRECT', /token 'wrong-pin-target' .* refused the PIN \(CKR_PIN_INCORRECT\): check vault\.pkcs11\.pin$/));
  });

  it('refuses an unknown token label and lists the tokens present', async () => {
    const config = testConfig({ ...token.env, REALM_VAULT_PKCS11_TOKEN_LABEL: 'no-such-token' });
    await assert.rejects(async () => KeyVault.open(config, fx.db), vaultError('VAULT_TOKEN_NOT_FOUND', /no token labelled 'no-such-token' .* \(vault\.pkcs11\.tokenLabel\); tokens present: .*'pkcs11-suite'/));
  });

  it('reports a master key missing from the token, naming the label setting', async () => {
    const config = testConfig({ ...token.env, REALM_VAULT_MASTER_KEY_LABEL: 'other-label' });
    await assert.rejects(async () => KeyVault.open(config, fx.db), vaultError('VAULT_MASTER_KEY_MISSING', /master key 'other-label' generation 1 .* is not on token 'pkcs11-suite' \(vault\.masterKeyLabel/));
  });
});
