import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, privateDecrypt, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { type Database, isUniqueViolation } from '@realm/persistence';
import type { MasterKeyBackend } from './backends/master-key-backend.js';
import { Pkcs11MasterKeyBackend } from './backends/pkcs11/pkcs11-master-key.backend.js';
import { AsymmetricKeyRepository } from './hierarchy/asymmetric-key.repository.js';
import type { AsymmetricKeyRow } from './hierarchy/vault.entities.js';
import type { KeyVault } from './key-vault.js';
import { VaultError } from './vault.error.js';

const generateRsa = promisify(generateKeyPair);

/**
 * RSA key pairs whose private half never leaves the vault: with the PKCS#11 backend a token object
 * (sensitive, not extractable; OAEP decryption and PSS signing run in the HSM), with the software
 * backend a PKCS#8 key sealed under the KEK hierarchy like any other key. Callers name a key by
 * URI and get only public keys, decryptions and signatures back.
 */
export class RsaKeyStore {
  private readonly rows: AsymmetricKeyRepository;
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(
    private readonly vault: KeyVault,
    private readonly backend: MasterKeyBackend,
    db: Database,
  ) {
    this.rows = new AsymmetricKeyRepository(db);
  }

  /** Creates a key pair under `uri` (modulus of `bits`, exponent 65537) and returns its public key. */
  async create(uri: string, bits = 2048): Promise<KeyObject> {
    if (bits < 2048) throw new VaultError('VAULT_INVALID_ARGUMENT', 'RSA keys must have at least 2048 bits');
    let row: AsymmetricKeyRow;
    if (this.backend instanceof Pkcs11MasterKeyBackend) {
      const tokenId = tokenIdOf(uri);
      const publicKey = this.backend.generateRsaKeyPair(tokenId, uri.slice(0, 128), bits);
      row = { uri, algorithm: 'RSA', location: 'pkcs11', tokenId, publicKey, createdAt: new Date() };
      await this.insert(row);
    } else {
      const pair = await generateRsa('rsa', { modulusLength: bits, publicExponent: 0x10001 });
      const sealed = await this.vault.seal(uri, pair.privateKey.export({ type: 'pkcs8', format: 'der' }));
      row = { uri, algorithm: 'RSA', location: 'sealed', tokenId: null, publicKey: pair.publicKey.export({ type: 'spki', format: 'der' }), createdAt: new Date() };
      await this.vault.database.write(async (tx) => {
        await this.vault.store([sealed], tx);
        await this.rows.insert(row, tx);
      }).catch((error: unknown) => {
        throw isUniqueViolation(error) ? new VaultError('VAULT_KEY_EXISTS', `a key pair named ${uri} already exists`) : error;
      });
    }
    return this.publicKey(uri) as Promise<KeyObject>;
  }

  /** The public key of `uri`, or undefined when there is no such key pair. */
  async publicKey(uri: string): Promise<KeyObject | undefined> {
    const cached = this.publicKeys.get(uri);
    if (cached) return cached;
    const row = await this.rows.find(uri);
    if (!row) return undefined;
    const key = createPublicKey({ key: row.publicKey, format: 'der', type: 'spki' });
    this.publicKeys.set(uri, key);
    return key;
  }

  /** RSAES-OAEP (RFC 8017 §7.1) decryption with the private key of `uri`. */
  async oaepDecrypt(uri: string, ciphertext: Buffer, hash: 'sha1' | 'sha256'): Promise<Buffer> {
    const row = await this.require(uri);
    if (row.location === 'pkcs11') return this.pkcs11().rsaOaepDecrypt(row.tokenId!, ciphertext, hash);
    try {
      return privateDecrypt({ key: await this.privateKey(row), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ciphertext);
    } catch {
      throw new VaultError('VAULT_UNWRAP_FAILED', 'RSA-OAEP decryption failed');
    }
  }

  /** RSASSA-PSS (RFC 8017 §8.1) over SHA-256 with MGF1-SHA-256 and a 32-byte salt (JWS PS256). */
  async pssSha256Sign(uri: string, data: Buffer): Promise<Buffer> {
    const row = await this.require(uri);
    if (row.location === 'pkcs11') return this.pkcs11().rsaPssSha256Sign(row.tokenId!, data);
    return sign('sha256', data, { key: await this.privateKey(row), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  }

  /** RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) over SHA-256: what certification requests are signed with. */
  async pkcs1Sha256Sign(uri: string, data: Buffer): Promise<Buffer> {
    const row = await this.require(uri);
    if (row.location === 'pkcs11') return this.pkcs11().rsaPkcs1Sha256Sign(row.tokenId!, data);
    return sign('sha256', data, { key: await this.privateKey(row), padding: constants.RSA_PKCS1_PADDING });
  }

  private async insert(row: AsymmetricKeyRow): Promise<void> {
    try {
      await this.vault.database.write((tx) => this.rows.insert(row, tx));
    } catch (error) {
      throw isUniqueViolation(error) ? new VaultError('VAULT_KEY_EXISTS', `a key pair named ${row.uri} already exists`) : error;
    }
  }

  private async require(uri: string): Promise<AsymmetricKeyRow> {
    const row = await this.rows.find(uri);
    if (!row) throw new VaultError('VAULT_KEY_NOT_FOUND', `no key pair named ${uri}`);
    return row;
  }

  private async privateKey(row: AsymmetricKeyRow): Promise<KeyObject> {
    const cached = this.privateKeys.get(row.uri);
    if (cached) return cached;
    const der = await this.vault.getKey(row.uri);
    if (!der) throw new VaultError('VAULT_KEY_NOT_FOUND', `the private half of ${row.uri} is missing from the vault`);
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    this.privateKeys.set(row.uri, key);
    return key;
  }

  private pkcs11(): Pkcs11MasterKeyBackend {
    if (!(this.backend instanceof Pkcs11MasterKeyBackend)) {
      throw new VaultError('VAULT_HSM_UNAVAILABLE', 'this key pair lives in a PKCS#11 token, but the vault backend is not pkcs11 (vault.backend)', { setting: 'vault.backend' });
    }
    return this.backend;
  }
}

/** CKA_ID of the token objects of `uri`: the first 16 bytes of its SHA-256, stable and URI-free. */
function tokenIdOf(uri: string): Buffer {
  return createHash('sha256').update(uri).digest().subarray(0, 16);
}
