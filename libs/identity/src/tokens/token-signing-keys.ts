import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { calculateJwkThumbprint } from 'jose';
import type { AuditLog } from '@realm/audit';
import { type Database, isUniqueViolation } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import type { SigningKeyRow } from '../identity.entities.js';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError } from '../identity.error.js';
import { SigningKeyRepository } from './signing-key.repository.js';

/** The one signature algorithm of access tokens: ECDSA P-256 with SHA-256 (RFC 7518 §3.4). */
export const TOKEN_SIGNING_ALG = 'ES256';

/** Where the vault keeps a token-signing private key (PKCS#8 DER, sealed with this URI as AAD). */
export function signingKeyUri(kid: string): string {
  return `realm:identity/token-signing-keys/${kid}`;
}

/** A public JWK as published in the JWKS (RFC 7517 §4, §5). */
export interface PublicSigningJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly alg: typeof TOKEN_SIGNING_ALG;
  readonly use: 'sig';
}

export interface JsonWebKeySet {
  readonly keys: readonly PublicSigningJwk[];
}

/** How stale this process's view of a key's state (active, retired, not_after) may get. */
const KEY_STATE_RECHECK_MS = 1000;

interface VerificationKey {
  readonly publicKey: KeyObject;
  readonly jwk: PublicSigningJwk;
  row: SigningKeyRow;
  checkedAt: number;
}

/**
 * The token-signing keys: ES256 key pairs whose private halves are sealed in the vault and whose
 * public halves are stored in `identity_signing_keys` and published as a JWKS.
 *
 * A stored public key is never trusted on its own: it is derived again from the sealed private key
 * (and compared with the row) before it verifies anything, so someone who can write the database
 * but not open the vault cannot plant a key of their own.
 *
 * One key is active and signs; `rotate()` retires it, and a retired key keeps verifying until
 * every token it can have signed has expired (`retentionSeconds` after the rotation). Its private
 * half is destroyed by a later rotation, once a further retention period has passed.
 */
export class TokenSigningKeys {
  private readonly repository: SigningKeyRepository;
  private signer: { kid: string; privateKey: KeyObject } | undefined;
  private readonly verification = new Map<string, VerificationKey>();

  constructor(
    private readonly db: Database,
    private readonly vault: KeyVault,
    private readonly audit: AuditLog,
    private readonly clock: () => number,
    /** Seconds a retired key keeps verifying: the longest token lifetime plus the clock tolerance. */
    private readonly retentionSeconds: number,
  ) {
    this.repository = new SigningKeyRepository(db);
  }

  /** Creates the first signing key unless one is active. Safe to run twice and on several nodes at once. */
  async ensureActive(context?: IdentityAuditContext): Promise<void> {
    if (await this.repository.active()) return;
    const candidate = await this.generate();
    let created = false;
    try {
      created = await this.db.write(async (tx) => {
        if (await this.repository.active(tx)) return false;
        await this.repository.insert(candidate.row, tx);
        await this.vault.store([candidate.sealed], tx);
        return true;
      });
    } catch (error) {
      // Another node created the active key first (one-active partial unique index): use theirs.
      if (!isUniqueViolation(error)) throw error;
    }
    if (created) await this.audited('identity.signing-key.create', candidate.row.kid, undefined, context);
  }

  /** The active key, for signing. The active row is read on every call, so a rotation on another node is seen at once. */
  async activeSigner(): Promise<{ kid: string; privateKey: KeyObject }> {
    let row = await this.repository.active();
    if (!row) {
      await this.ensureActive();
      row = await this.repository.active();
      if (!row) throw new IdentityError('IDENTITY_SIGNING_KEY_INVALID', 'there is no active token-signing key');
    }
    if (this.signer?.kid !== row.kid) {
      const opened = await this.openKeyPair(row);
      if (!opened) throw new IdentityError('IDENTITY_SIGNING_KEY_INVALID', `the vault holds no private key for the active token-signing key ${row.kid}`);
      this.signer = { kid: row.kid, privateKey: opened.privateKey };
    }
    return this.signer;
  }

  /**
   * The public key of `kid` if tokens signed with it are accepted now, else undefined. The key
   * itself is cached for good (a kid names one key: it is derived from it); its state is re-read
   * from the database when this process's view is older than {@link KEY_STATE_RECHECK_MS}.
   */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const entry = await this.entry(kid);
    return entry && this.accepted(entry.row) ? entry.publicKey : undefined;
  }

  /** RFC 7517 §5: the public keys of every key whose tokens are still accepted, the active one first. */
  async jwks(): Promise<JsonWebKeySet> {
    const rows = (await this.repository.list()).filter((row) => this.accepted(row));
    rows.sort((a, b) => Number(b.state === 'active') - Number(a.state === 'active'));
    const keys: PublicSigningJwk[] = [];
    for (const row of rows) {
      const entry = await this.entry(row.kid, row);
      if (entry) keys.push(entry.jwk);
    }
    return { keys };
  }

  /**
   * Makes a new active key and retires the current one, which keeps verifying for
   * `retentionSeconds`. In the same transaction, the private halves of keys that have been out of
   * use for a further retention period are destroyed. Two nodes rotating at once make two
   * rotations, one after the other.
   */
  async rotate(context?: IdentityAuditContext): Promise<{ kid: string; retiredKid: string | undefined }> {
    const candidate = await this.generate();
    for (let attempt = 1; ; attempt++) {
      const now = this.clock();
      try {
        const retired = await this.db.write(async (tx) => {
          const current = await this.repository.lockActive(tx);
          if (current) await this.repository.retire(current.kid, new Date(now), new Date(now + this.retentionSeconds * 1000), tx);
          await this.repository.insert(candidate.row, tx);
          await this.vault.store([candidate.sealed], tx);
          // Purged only once a key has been out of use for a whole further retention period, so a
          // node whose clock lags behind never looks for a private half that is already gone.
          for (const row of await this.repository.list(tx)) {
            if (row.state === 'retired' && row.notAfter !== null && row.notAfter.getTime() + this.retentionSeconds * 1000 < now) {
              await this.vault.deleteKey(signingKeyUri(row.kid), tx);
            }
          }
          return current?.kid;
        });
        this.signer = undefined;
        this.verification.clear();
        await this.audited('identity.signing-key.rotate', candidate.row.kid, retired, context);
        return { kid: candidate.row.kid, retiredKid: retired };
      } catch (error) {
        // On PostgreSQL a concurrent rotation can commit its new active key between our lock and
        // our insert; the partial unique index refuses ours: rotate again, after theirs.
        if (!isUniqueViolation(error) || attempt >= 3) throw error;
      }
    }
  }

  private accepted(row: SigningKeyRow): boolean {
    if (row.alg !== TOKEN_SIGNING_ALG) return false;
    if (row.state === 'active') return true;
    return row.notAfter !== null && this.clock() <= row.notAfter.getTime();
  }

  private async entry(kid: string, known?: SigningKeyRow): Promise<VerificationKey | undefined> {
    const cached = this.verification.get(kid);
    if (cached && performance.now() - cached.checkedAt < KEY_STATE_RECHECK_MS) return cached;
    const row = known ?? (await this.repository.find(kid));
    if (!row) {
      this.verification.delete(kid);
      return undefined;
    }
    if (cached) {
      cached.row = row;
      cached.checkedAt = performance.now();
      return cached;
    }
    if (!this.accepted(row)) return undefined;
    const opened = await this.openKeyPair(row);
    // A retired key whose private half was destroyed verifies nothing any more.
    if (!opened) return undefined;
    const { publicKey, jwk } = opened;
    const entry: VerificationKey = { publicKey, jwk, row, checkedAt: performance.now() };
    this.verification.set(kid, entry);
    return entry;
  }

  /**
   * Opens the sealed private key of `row` and checks that the stored public key is its public half.
   * Undefined when a retired key's private half was destroyed; an active key without one is an error.
   */
  private async openKeyPair(row: SigningKeyRow): Promise<{ privateKey: KeyObject; publicKey: KeyObject; jwk: PublicSigningJwk } | undefined> {
    const der = await this.vault.getKey(signingKeyUri(row.kid));
    if (!der && row.state === 'retired') return undefined;
    if (!der) throw new IdentityError('IDENTITY_SIGNING_KEY_INVALID', `the vault holds no private key for token-signing key ${row.kid}`);
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    const publicKey = createPublicKey(privateKey);
    const jwk = await publicJwkOf(publicKey);
    if (jwk.kid !== row.kid || jwk.x !== row.publicJwk['x'] || jwk.y !== row.publicJwk['y'] || row.publicJwk['crv'] !== 'P-256') {
      throw new IdentityError('IDENTITY_SIGNING_KEY_INVALID', `the stored public key of token-signing key ${row.kid} does not match the private key the vault protects`);
    }
    return { privateKey, publicKey, jwk };
  }

  private async generate(): Promise<{ row: SigningKeyRow; sealed: Awaited<ReturnType<KeyVault['seal']>> }> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = await publicJwkOf(publicKey);
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    // Sealing may create this epoch's KEK (its own transaction), so it happens before ours.
    const sealed = await this.vault.seal(signingKeyUri(jwk.kid), der);
    der.fill(0);
    const row: SigningKeyRow = {
      kid: jwk.kid,
      alg: TOKEN_SIGNING_ALG,
      publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
      state: 'active',
      createdAt: new Date(this.clock()),
      retiredAt: null,
      notAfter: null,
    };
    return { row, sealed };
  }

  private async audited(action: string, kid: string, retiredKid: string | undefined, context?: IdentityAuditContext): Promise<void> {
    await recordIdentityEvent(this.audit, context, {
      action,
      outcome: 'success',
      resources: [signingKeyUri(kid)],
      details: { kid, alg: TOKEN_SIGNING_ALG, ...(retiredKid !== undefined && { retiredKid, retainedSeconds: this.retentionSeconds }) },
    });
  }
}

/**
 * The public JWK of a P-256 key, with its kid: the first 22 characters (132 bits) of its RFC 7638
 * SHA-256 thumbprint. Shorter than the full thumbprint so that audit records, which redact any run
 * of 40 or more key-like characters, keep it readable.
 */
export async function publicJwkOf(publicKey: KeyObject): Promise<PublicSigningJwk> {
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new IdentityError('IDENTITY_SIGNING_KEY_INVALID', 'a token-signing key must be an EC P-256 key');
  }
  const thumbprint = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'sha256');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: thumbprint.slice(0, 22), alg: TOKEN_SIGNING_ALG, use: 'sig' };
}
