import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Pkcs11Config } from '@realm/config';
import { VaultError } from '../../vault.error.js';
import type { MasterKeyBackend } from '../master-key-backend.js';
import { Pkcs11Token } from './pkcs11-token.js';

type Handle = Buffer;

/** CKZ_DATA_SPECIFIED (PKCS#11 v2.40 §2.1.8): the OAEP label is given, here empty, as RFC 8017 defaults. */
const CKZ_DATA_SPECIFIED = 0x00000001;

/**
 * CKM_AES_KEY_WRAP_PAD (0x210A). PKCS#11 v2.40 §2.14.3 is ambiguous about its padding, and
 * tokens differ for key lengths that are not a multiple of 8 bytes; for the 32-byte KEKs the vault
 * wraps, SoftHSM2 produces exactly RFC 5649 (checked by the PKCS#11 suite). PKCS#11 v3.0 names
 * RFC 5649 unambiguously as CKM_AES_KEY_WRAP_KWP; hsm-config/README.md says how to check an HSM.
 * Blobs wrapped by the HSM are only ever unwrapped by the HSM, so the format need not match the
 * software backend's; the check value proves at start that it is the same key.
 */
const WRAP_MECHANISM: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD };

export interface MasterKeyAttributes {
  readonly label: string;
  readonly id: string;
  readonly valueLen: number;
  readonly extractable: boolean;
  readonly sensitive: boolean;
  readonly neverExtractable: boolean;
  readonly alwaysSensitive: boolean;
  readonly token: boolean;
}

/**
 * Master keys as AES-256 secret-key objects generated inside the token (CKM_AES_KEY_GEN) with
 * CKA_SENSITIVE=true and CKA_EXTRACTABLE=false: the key value never leaves the HSM. Generations
 * share CKA_LABEL (vault.masterKeyLabel) and are told apart by CKA_ID (the generation number).
 * The key may wrap and unwrap, nothing else (least privilege).
 */
export class Pkcs11MasterKeyBackend implements MasterKeyBackend {
  readonly kind = 'pkcs11' as const;
  readonly token: Pkcs11Token;

  constructor(
    config: Pkcs11Config,
    private readonly label: string,
  ) {
    this.token = new Pkcs11Token(config);
  }

  /** Logs in now: a wrong PIN, label or module stops the start with one line. */
  open(): void {
    this.token.open();
  }

  hasMasterKey(generation: number): boolean {
    return this.token.run('find-key', (_, session) => this.find(session, generation) !== undefined);
  }

  createMasterKey(generation: number): void {
    if (this.hasMasterKey(generation)) {
      throw new VaultError('VAULT_KEY_EXISTS', `master key '${this.label}' generation ${generation} already exists on token '${this.token.tokenLabel}'`);
    }
    this.token.run('generate-key', (library, session) =>
      library.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_UNWRAP, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: false },
        { type: pkcs11js.CKA_DECRYPT, value: false },
        { type: pkcs11js.CKA_SIGN, value: false },
        { type: pkcs11js.CKA_VERIFY, value: false },
        { type: pkcs11js.CKA_DERIVE, value: false },
        { type: pkcs11js.CKA_LABEL, value: this.label },
        { type: pkcs11js.CKA_ID, value: idOf(generation) },
      ]),
    );
  }

  destroyMasterKey(generation: number): void {
    this.token.run('destroy', (library, session) => {
      const key = this.find(session, generation);
      if (key) library.C_DestroyObject(session, key);
    });
    this.token.forget(cacheKeyOf(this.label, generation));
  }

  wrapKey(generation: number, key: Buffer): Buffer {
    return this.token.run('wrap', (library, session) => {
      const master = this.require(session, generation);
      // The KEK enters the token only as a short-lived session object, destroyed right after.
      const object = library.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_VALUE, value: key },
      ]);
      try {
        return Buffer.from(library.C_WrapKey(session, WRAP_MECHANISM, master, object, Buffer.alloc(key.length + 16)));
      } finally {
        library.C_DestroyObject(session, object);
      }
    });
  }

  unwrapKey(generation: number, wrapped: Buffer): Buffer {
    return this.token.run('unwrap', (library, session) => {
      const master = this.require(session, generation);
      const object = library.C_UnwrapKey(session, WRAP_MECHANISM, master, wrapped, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      ]);
      try {
        const [value] = library.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_VALUE }]);
        return Buffer.from(value!.value);
      } finally {
        library.C_DestroyObject(session, object);
      }
    });
  }

  /** The master key's attributes as the token reports them (CKA_EXTRACTABLE, CKA_SENSITIVE, ...). */
  inspectMasterKey(generation: number): MasterKeyAttributes {
    return this.token.run('read-attributes', (library, session) => {
      const key = this.require(session, generation);
      const attrs = library.C_GetAttributeValue(session, key, [
        { type: pkcs11js.CKA_LABEL },
        { type: pkcs11js.CKA_ID },
        { type: pkcs11js.CKA_VALUE_LEN },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
        { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
        { type: pkcs11js.CKA_TOKEN },
      ]);
      const bool = (i: number) => attrs[i]!.value[0] === 1;
      return {
        label: attrs[0]!.value.toString('utf8'),
        id: attrs[1]!.value.toString('utf8'),
        // CK_ULONG: 8 bytes on LP64 platforms, in host (little-endian) order.
        valueLen: Number(attrs[2]!.value.length === 8 ? attrs[2]!.value.readBigUInt64LE() : attrs[2]!.value.readUInt32LE()),
        extractable: bool(3),
        sensitive: bool(4),
        neverExtractable: bool(5),
        alwaysSensitive: bool(6),
        token: bool(7),
      };
    });
  }

  /**
   * Generates an RSA key pair in the token (PKCS#11 v2.40 §2.1.4, CKM_RSA_PKCS_KEY_PAIR_GEN). The
   * private key is a token object, sensitive and never extractable, allowed to decrypt and sign
   * only; both halves carry `id` as CKA_ID. Returns the public key as SPKI DER.
   */
  generateRsaKeyPair(id: Buffer, label: string, bits: number): Buffer {
    return this.token.run('generate-key', (library, session) => {
      const { publicKey } = library.C_GenerateKeyPair(
        session,
        { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_MODULUS_BITS, value: bits },
          { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: pkcs11js.CKA_ENCRYPT, value: true },
          { type: pkcs11js.CKA_VERIFY, value: true },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_ID, value: id },
        ],
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          { type: pkcs11js.CKA_DECRYPT, value: true },
          { type: pkcs11js.CKA_SIGN, value: true },
          { type: pkcs11js.CKA_UNWRAP, value: false },
          { type: pkcs11js.CKA_DERIVE, value: false },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_ID, value: id },
        ],
      );
      const [modulus, exponent] = library.C_GetAttributeValue(session, publicKey, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]);
      return createPublicKey({ key: { kty: 'RSA', n: modulus!.value.toString('base64url'), e: exponent!.value.toString('base64url') }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
    });
  }

  /** RSAES-OAEP decryption inside the token (CKM_RSA_PKCS_OAEP; SHA-1 or SHA-256 with the matching MGF1). */
  rsaOaepDecrypt(id: Buffer, ciphertext: Buffer, hash: 'sha1' | 'sha256'): Buffer {
    return this.token.run('decrypt', (library, session) => {
      const key = this.requirePrivateKey(session, id);
      const parameter: pkcs11js.RsaOAEP = {
        type: pkcs11js.CK_PARAMS_RSA_OAEP,
        hashAlg: hash === 'sha1' ? pkcs11js.CKM_SHA_1 : pkcs11js.CKM_SHA256,
        mgf: hash === 'sha1' ? pkcs11js.CKG_MGF1_SHA1 : pkcs11js.CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
      };
      library.C_DecryptInit(session, { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter }, key);
      return Buffer.from(library.C_Decrypt(session, ciphertext, Buffer.alloc(ciphertext.length)));
    });
  }

  /** RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt inside the token (CKM_SHA256_RSA_PKCS_PSS). */
  rsaPssSha256Sign(id: Buffer, data: Buffer): Buffer {
    return this.token.run('sign', (library, session) => {
      const key = this.requirePrivateKey(session, id);
      const parameter: pkcs11js.RsaPSS = { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, saltLen: 32 };
      library.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS_PSS, parameter }, key);
      return Buffer.from(library.C_Sign(session, data, Buffer.alloc(1024)));
    });
  }

  /** RSASSA-PKCS1-v1_5 with SHA-256 inside the token (CKM_SHA256_RSA_PKCS): certificate signing requests. */
  rsaPkcs1Sha256Sign(id: Buffer, data: Buffer): Buffer {
    return this.token.run('sign', (library, session) => {
      library.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS }, this.requirePrivateKey(session, id));
      return Buffer.from(library.C_Sign(session, data, Buffer.alloc(1024)));
    });
  }

  /** The private key object with CKA_ID `id`, for tests and `realmctl status`. */
  inspectPrivateKey(id: Buffer): { sensitive: boolean; extractable: boolean } {
    return this.token.run('read-attributes', (library, session) => {
      const key = this.requirePrivateKey(session, id);
      const [sensitive, extractable] = library.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]);
      return { sensitive: sensitive!.value[0] === 1, extractable: extractable!.value[0] === 1 };
    });
  }

  private requirePrivateKey(session: Handle, id: Buffer): Handle {
    const key = this.token.findObject(session, `private key ${id.toString('hex')}`, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_ID, value: id },
    ]);
    if (!key) throw new VaultError('VAULT_KEY_NOT_FOUND', `no private key with CKA_ID ${id.toString('hex')} on token '${this.token.tokenLabel}'`);
    return key;
  }

  health(): { ok: boolean; detail: string } {
    try {
      this.token.run('health', (library, session) => library.C_GetSessionInfo(session));
      return { ok: true, detail: `PKCS#11 token '${this.token.tokenLabel}' logged in` };
    } catch (error) {
      return { ok: false, detail: error instanceof VaultError ? error.message : 'PKCS#11 token not reachable' };
    }
  }

  describe(): Record<string, string> {
    return { backend: 'pkcs11', tokenLabel: this.token.tokenLabel, masterKeyLabel: this.label, mechanism: 'CKM_AES_KEY_WRAP_PAD' };
  }

  close(): void {
    this.token.close();
  }

  private find(session: Handle, generation: number): Handle | undefined {
    return this.token.findObject(session, cacheKeyOf(this.label, generation), [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_LABEL, value: this.label },
      { type: pkcs11js.CKA_ID, value: idOf(generation) },
    ]);
  }

  private require(session: Handle, generation: number): Handle {
    const key = this.find(session, generation);
    if (!key) {
      throw new VaultError('VAULT_MASTER_KEY_MISSING', `master key '${this.label}' generation ${generation} (CKA_ID ${generation}) is not on token '${this.token.tokenLabel}' (vault.masterKeyLabel, vault.pkcs11.tokenLabel)`, { setting: 'vault.masterKeyLabel' });
    }
    return key;
  }
}

function idOf(generation: number): Buffer {
  return Buffer.from(String(generation), 'utf8');
}

function cacheKeyOf(label: string, generation: number): string {
  return `master key '${label}' generation ${generation}`;
}
