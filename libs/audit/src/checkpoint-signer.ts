import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { sha256 } from '@realm/crypto';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { AuditError } from './audit.error.js';
import { AuditRepository } from './audit.repository.js';

/** Where the vault keeps a checkpoint private key (PKCS#8 DER, sealed with this URI as AAD). */
export function checkpointKeyUri(keyId: string): string {
  return `realm:audit/checkpoint-keys/${keyId}`;
}

/** Key id of an Ed25519 public key: the first 128 bits of SHA-256 over its SPKI DER, in hex. */
export function keyIdOf(publicKeyDer: Buffer): string {
  return sha256(publicKeyDer).subarray(0, 16).toString('hex');
}

/**
 * The Ed25519 key (RFC 8032) that signs audit checkpoints. Its private half is sealed by the vault
 * (so, in production, under the HSM's master key); its public half is stored beside the log so an
 * auditor can check checkpoints, and verification cross-checks the two.
 */
export class CheckpointSigner {
  private constructor(
    readonly keyId: string,
    private readonly privateKey: KeyObject,
  ) {}

  /** Loads the newest checkpoint key, creating the first one if there is none. */
  static async loadOrCreate(db: Database, vault: KeyVault): Promise<CheckpointSigner> {
    const repository = new AuditRepository(db);
    let keys = await repository.signingKeys();
    if (keys.length === 0) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const publicDer = publicKey.export({ type: 'spki', format: 'der' });
      const keyId = keyIdOf(publicDer);
      const sealed = await vault.seal(checkpointKeyUri(keyId), privateKey.export({ type: 'pkcs8', format: 'der' }));
      await db.write(async (tx) => {
        // The head lock serialises the check-then-create across nodes.
        await repository.lockHead(tx);
        if ((await repository.signingKeys(tx)).length > 0) return;
        await vault.store([sealed], tx);
        await repository.insertSigningKey({ keyId, algorithm: 'Ed25519', publicKey: publicDer, createdAt: new Date() }, tx);
      });
      keys = await repository.signingKeys();
    }
    const newest = keys[keys.length - 1]!;
    const der = await vault.getKey(checkpointKeyUri(newest.keyId));
    if (!der) throw new AuditError('AUDIT_SIGNING_KEY_INVALID', `the vault holds no private key for audit checkpoint key ${newest.keyId}`);
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (!derived.equals(newest.publicKey)) {
      throw new AuditError('AUDIT_SIGNING_KEY_INVALID', `the stored public key of audit checkpoint key ${newest.keyId} does not match the private key the vault protects`);
    }
    return new CheckpointSigner(newest.keyId, privateKey);
  }

  sign(payload: string): Buffer {
    return sign(null, Buffer.from(payload, 'utf8'), this.privateKey);
  }
}
