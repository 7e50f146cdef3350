import { randomUUID, type KeyObject, X509Certificate } from 'node:crypto';
import { type CompactSerialization, decryptRsaOaepJwe, signCompactJws } from '@realm/crypto';
import type { Database, Tx } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { KmsError } from '../kms.error.js';
import type { KmsStaticKeyRow } from '../kms.entities.js';
import type { KmsUris } from '../protocol/kms-uris.js';
import type { KmsStaticKeyRepository } from '../repositories/static-key.repository.js';

/**
 * How long {@link KmsStaticKey.current} answers from memory: after a rotation on another node, this
 * node signs errors with the retired key for at most this long. Each check is a database read; a
 * busy node needs none, its batches' transactions confirm the key ({@link KmsStaticKey.activeUriIn}).
 */
const MAX_STALENESS_MS = 1000;

/** The static public key as clients fetch it: an RSA JWK (RFC 7517) with a kms:// kid and x5c. */
export interface StaticPublicJwk {
  kty: 'RSA';
  kid: string;
  n: string;
  e: string;
  x5c?: string[];
}

/**
 * The KMS static identity: an RSA key pair (≥ 2048 bits) whose private half stays in the vault —
 * in the HSM token with the PKCS#11 backend, where ECDHE requests are decrypted (RSA-OAEP) and
 * ECDHE responses signed (PS256). Clients pin it through its x5c chain, whose leaf names the KMS
 * domain. Rotating it answers channels opened under the old key with a signed reset (499).
 */
export class KmsStaticKey {
  private active: { row: KmsStaticKeyRow; publicKey: KeyObject } | undefined;
  private stale = false;
  /** When the database last confirmed which key is active (performance.now()). */
  private checkedAt = 0;

  constructor(
    private readonly db: Database,
    private readonly vault: KeyVault,
    private readonly repository: KmsStaticKeyRepository,
    private readonly uris: KmsUris,
  ) {}

  /** Creates the first static key if there is none (safe to run twice). */
  async ensure(): Promise<void> {
    if ((await this.repository.all()).some((k) => k.state === 'active')) return;
    await this.create();
  }

  /** Creates a new static key and retires the active one: open channels get a signed reset. */
  async rotate(): Promise<string> {
    return this.create();
  }

  /**
   * The active key, as the database said at most {@link MAX_STALENESS_MS} ago or since
   * {@link refresh}: reloaded when another node (or realmctl) rotated it. What must not act on a
   * stale answer does not rely on this alone: the KMS message path checks each batch's channels
   * against {@link activeUriIn} in its transaction, and a handshake to another key re-reads it.
   */
  async current(): Promise<{ uri: string; publicKey: KeyObject; chain: string[] }> {
    if (this.active && (this.stale || performance.now() - this.checkedAt > MAX_STALENESS_MS)) {
      // Its URI answers whether the key is still the active one; the whole row (with its
      // certificate chain) is read again only when it changed, or for discovery.
      const uri = await this.repository.activeUri();
      if (uri !== undefined && uri === this.active.row.uri) {
        this.stale = false;
        this.checkedAt = performance.now();
      } else {
        this.stale = true;
      }
    }
    return this.load();
  }

  /** {@link current}, with the row read again whatever happened: its certificate chain may have been imported on another node. */
  private async load(): Promise<{ uri: string; publicKey: KeyObject; chain: string[] }> {
    if (!this.active || this.stale) {
      const row = await this.repository.active();
      if (!row) throw new KmsError('KMS_UNAVAILABLE', 'the KMS has no static key: run `realmctl init`');
      // The public key is read from the vault only when the active key changed.
      let publicKey = this.active?.row.uri === row.uri ? this.active.publicKey : undefined;
      publicKey ??= await this.vault.rsaKeys.publicKey(row.uri);
      if (!publicKey) throw new KmsError('KMS_UNAVAILABLE', 'the KMS static key pair is missing from the vault');
      this.active = { row, publicKey };
      this.stale = false;
      this.checkedAt = performance.now();
    }
    return { uri: this.active.row.uri, publicKey: this.active.publicKey, chain: this.active.row.certificateChain };
  }

  /**
   * The active key's URI as `tx` sees it. The KMS message path asks this once per batch, in the
   * transaction that records the batch's requestIds, rather than in a read of its own: a rotation
   * commits either before that transaction, and the batch's channels get the reset, or after it.
   * When another node (or realmctl) rotated the key, the next {@link current} reloads it.
   */
  async activeUriIn(tx: Tx): Promise<string | undefined> {
    const uri = await this.repository.activeUri(tx);
    if (uri !== this.active?.row.uri) this.stale = true;
    // Confirmed, as a read of its own would have: a busy node needs no other read.
    else if (!this.stale) this.checkedAt = performance.now();
    return uri;
  }

  /** Makes the next {@link current} re-read which key is active (another node or realmctl may have rotated it). */
  refresh(): void {
    this.stale = true;
  }

  async publicJwk(): Promise<StaticPublicJwk> {
    this.stale = true;
    const { uri, publicKey, chain } = await this.load();
    const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return { kty: 'RSA', kid: uri, n: jwk.n, e: jwk.e, ...(chain.length > 0 && { x5c: chain }) };
  }

  /** Whether `kid` names a static key of this KMS that is no longer active (the message predates a rotation). */
  async isRetired(kid: string): Promise<boolean> {
    return (await this.repository.all()).some((k) => k.uri === kid && k.state === 'retired');
  }

  /** Decrypts an ECDHE request (JWE RSA-OAEP + A256GCM to the active static key). */
  async decryptHandshake(token: string): Promise<Buffer> {
    const { uri } = await this.current();
    const { plaintext } = await decryptRsaOaepJwe(token, { decrypt: (encryptedKey: Buffer) => this.vault.rsaKeys.oaepDecrypt(uri, encryptedKey, 'sha1') }, { expectedKid: uri });
    return plaintext;
  }

  /**
   * Signs a response as a compact JWS, PS256, with the active static key, or with `keyUri`: a
   * reset (499) is signed with the retired key the client addressed, the only one it can verify.
   */
  async sign(payload: Buffer, keyUri?: string): Promise<CompactSerialization> {
    const uri = keyUri ?? (await this.current()).uri;
    return signCompactJws(payload, uri, { alg: 'PS256', sign: (input: Buffer) => this.vault.rsaKeys.pssSha256Sign(uri, input) });
  }

  /**
   * Sets the x5c chain (base64 DER, leaf first) of the active key after checking that the leaf
   * carries the key's own modulus and exponent and names the KMS domain in its subjectAltName.
   */
  async setCertificateChain(chain: string[]): Promise<void> {
    const { uri, publicKey } = await this.current();
    const leaf = new X509Certificate(Buffer.from(chain[0] ?? '', 'base64'));
    if (!leaf.publicKey.equals(publicKey)) throw new KmsError('KMS_BAD_REQUEST', 'the certificate does not carry the KMS static public key');
    if (!leaf.checkHost(this.uris.domain, { subject: 'never' })) throw new KmsError('KMS_BAD_REQUEST', `the certificate's subjectAltName does not name ${this.uris.domain} (kms.domain)`);
    for (let i = 0; i + 1 < chain.length; i++) {
      const child = new X509Certificate(Buffer.from(chain[i]!, 'base64'));
      const parent = new X509Certificate(Buffer.from(chain[i + 1]!, 'base64'));
      if (!child.verify(parent.publicKey)) throw new KmsError('KMS_BAD_REQUEST', `certificate ${i} of the chain is not signed by certificate ${i + 1}`);
    }
    await this.db.write((tx) => this.repository.setCertificateChain(uri, chain, tx));
    this.refresh();
  }

  private async create(): Promise<string> {
    const uri = `${this.uris.base}/statickeys/${randomUUID()}`;
    await this.vault.rsaKeys.create(uri, 2048);
    const now = new Date();
    await this.db.write(async (tx) => {
      await this.repository.retireActive(now, tx);
      await this.repository.insert({ uri, state: 'active', certificateChain: [], createDate: now, retireDate: null }, tx);
    });
    this.refresh();
    return uri;
  }
}
