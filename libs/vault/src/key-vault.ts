import { createSecretKey, type KeyObject, randomUUID } from 'node:crypto';
import type { RealmConfig } from '@realm/config';
import { aesGcmOpen, aesGcmSeal, CryptoError, randomKey } from '@realm/crypto';
import { type Database, isUniqueViolation, type Tx } from '@realm/persistence';
import type { MasterKeyBackend } from './backends/master-key-backend.js';
import { Pkcs11MasterKeyBackend } from './backends/pkcs11/pkcs11-master-key.backend.js';
import { SoftwareMasterKeyBackend } from './backends/software-master-key.backend.js';
import { KekRepository } from './hierarchy/kek.repository.js';
import { MasterKeyRepository } from './hierarchy/master-key.repository.js';
import { SealedKeyRepository } from './hierarchy/sealed-key.repository.js';
import type { KekRow, MasterKeyRow, SealedKeyRow } from './hierarchy/vault.entities.js';
import { RsaKeyStore } from './rsa-key-store.js';
import { VaultError } from './vault.error.js';

/** Format byte of a sealed key: AES-256-GCM, iv(12) || ciphertext || tag(16), AAD = the key's URI. */
const SEALED_V1 = 0x01;
const CHECK_PLAINTEXT = Buffer.alloc(32);
// Sealed rows of permanent keys kept per process (~200 bytes each).
const PERMANENT_ROW_CACHE_LIMIT = 100_000;

/** A content key kept opened in memory (KeyVault.openedKeys), and when it was last used. */
interface OpenedKey {
  /** In memory of its own (not a slice of Node's shared buffer pool), so wiping it wipes only it. */
  readonly key: Buffer;
  usedAt: number;
}

/** A key sealed under a KEK for its URI, ready to be stored. */
export type SealedKey = SealedKeyRow;

export interface VaultStatus {
  readonly backend: Record<string, string>;
  readonly masterKeys: readonly { generation: number; state: string; createdAt: string; retiredAt: string | null; keks: number }[];
  readonly currentEpoch: number;
  readonly kekEpochSeconds: number;
}

export interface RotationReport {
  readonly fromGeneration: number;
  readonly toGeneration: number;
  readonly rewrapped: number;
  readonly remaining: number;
  readonly completed: boolean;
}

export interface RotationOptions {
  readonly batchSize?: number;
  /** Stop (as an interruption would) after re-wrapping this many KEKs; the next call resumes. */
  readonly stopAfter?: number;
  readonly onProgress?: (rewrapped: number) => void;
}

export interface VaultOptions {
  /** Milliseconds since the epoch; injectable so tests can cross KEK epochs. */
  readonly clock?: () => number;
  readonly backend?: MasterKeyBackend;
}

/** Counters of backend calls, for metrics, benchmarks and the tests that prove the KEK cache works. */
export interface VaultCounters {
  backendWraps: number;
  backendUnwraps: number;
  /** Content keys opened with their KEK (a key served from the opened-key cache is not counted). */
  contentKeyOpens: number;
}

/**
 * The key vault: the only component that holds key material.
 *
 * ```
 * master key (in the backend; HSM in production)      rotation re-wraps KEKs only
 *   └─ KEKs (vault_keks, wrapped by a master generation; cached unwrapped; one per epoch)
 *        └─ keys (vault_keys, AES-256-GCM under a KEK, AAD = the key's URI)
 * ```
 *
 * Binding each sealed key to its URI as additional data means a row copied onto another URI no
 * longer opens. The backend is touched only when a KEK is created, first used by this process, or
 * re-wrapped, so content-key operations run at node:crypto speed.
 */
export class KeyVault {
  readonly counters: VaultCounters = { backendWraps: 0, backendUnwraps: 0, contentKeyOpens: 0 };
  /** RSA key pairs whose private halves stay in the vault (the KMS static identity). */
  readonly rsaKeys: RsaKeyStore;
  private readonly masterKeys: MasterKeyRepository;
  private readonly keks: KekRepository;
  private readonly sealedKeys: SealedKeyRepository;
  private readonly kekCache = new Map<string, KeyObject>();
  private readonly permanentRows = new Map<string, SealedKeyRow>();
  /**
   * Content keys of permanent keys, opened, least recently used first (vault.contentKeyCacheSize,
   * vault.contentKeyCacheIdle), as Cosmian KMS keeps its unwrapped objects: retrieving a key again
   * soon does not open it with its KEK again. The KEKs that open every stored key are held in
   * memory anyway; this keeps the few keys in use, bounded, and wipes (zeroes) each one when it is
   * evicted, idles out or the vault closes. Only permanent keys: one that can be deleted must not
   * outlive its row.
   */
  private readonly openedKeys = new Map<string, OpenedKey>();
  private readonly openedKeysSweep: NodeJS.Timeout | undefined;
  private current: { epoch: number; id: string; key: KeyObject } | undefined;
  private creatingKek: Promise<{ epoch: number; id: string; key: KeyObject }> | undefined;
  private readonly clock: () => number;

  private constructor(
    readonly backend: MasterKeyBackend,
    private readonly config: RealmConfig['vault'],
    private readonly db: Database,
    options: VaultOptions,
  ) {
    this.masterKeys = new MasterKeyRepository(db);
    this.keks = new KekRepository(db);
    this.sealedKeys = new SealedKeyRepository(db);
    this.clock = options.clock ?? Date.now;
    this.rsaKeys = new RsaKeyStore(this, backend, db);
    if (config.contentKeyCacheSize > 0) {
      this.openedKeysSweep = setInterval(() => this.wipeIdleKeys(), Math.min(config.contentKeyCacheIdleSeconds, 60) * 1000);
      this.openedKeysSweep.unref();
    }
  }

  /** The database the vault stores its keys in (for stores that write alongside it). */
  get database(): Database {
    return this.db;
  }

  /**
   * Opens the configured backend (logging in to the token for PKCS#11) and, if the vault was
   * initialised, proves the backend holds the master key the database was built with.
   */
  static async open(config: RealmConfig, db: Database, options: VaultOptions = {}): Promise<KeyVault> {
    const backend = options.backend ?? createBackend(config);
    const vault = new KeyVault(backend, config.vault, db, options);
    try {
      const active = await vault.activeMasterKey();
      if (active) vault.verifyCheckValue(active);
    } catch (error) {
      backend.close();
      throw error;
    }
    return vault;
  }

  /** Whether `realmctl init` (or the development auto-init) has created the master key. */
  async isInitialized(): Promise<boolean> {
    return (await this.activeMasterKey()) !== undefined;
  }

  /**
   * Creates master-key generation 1 and the first KEK. Safe to run twice and on several nodes at
   * once. A master key pre-provisioned in the HSM under the configured label and CKA_ID "1" (a key
   * ceremony) is adopted rather than replaced.
   */
  async initialize(): Promise<{ created: boolean; generation: number }> {
    const existing = await this.activeMasterKey();
    if (existing) {
      this.verifyCheckValue(existing);
      await this.currentKek();
      return { created: false, generation: existing.generation };
    }
    const row = this.createOrAdoptMasterKey(1, 'active');
    let created = true;
    try {
      await this.db.write((tx) => this.masterKeys.insert(row, tx));
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      created = false;
    }
    const active = await this.activeMasterKey();
    if (!active) throw new VaultError('VAULT_ROTATION_STATE', 'initialisation raced with another node and left no active master key: run realmctl init again');
    this.verifyCheckValue(active);
    await this.currentKek();
    return { created, generation: active.generation };
  }

  /** Creates a new random 256-bit key under `uri` and returns it. */
  async createKey(uri: string): Promise<Buffer> {
    const [key] = await this.createKeys([uri]);
    return key!;
  }

  /** Creates one random 256-bit key per URI, all stored in one transaction. */
  async createKeys(uris: readonly string[]): Promise<Buffer[]> {
    const prepared = await this.prepareKeys(uris);
    await this.db.write((tx) => this.store(prepared.sealed, tx));
    return prepared.keys;
  }

  /**
   * New random keys sealed for `uris` but not stored yet: for callers that store them inside a
   * transaction of their own (with {@link store}). Sealing may have to create this epoch's KEK,
   * which is its own transaction, so it must happen before the caller's transaction begins.
   */
  async prepareKeys(uris: readonly string[]): Promise<{ keys: Buffer[]; sealed: SealedKey[] }> {
    const kek = await this.currentKek();
    const createdAt = new Date(this.clock());
    const keys = uris.map(() => randomKey());
    return { keys, sealed: uris.map((uri, i) => ({ uri, kekId: kek.id, sealed: sealWith(kek.key, uri, keys[i]!), createdAt })) };
  }

  /** Seals caller-supplied material (a private key in PKCS#8 DER, say) for `uri`, without storing it. */
  async seal(uri: string, material: Buffer): Promise<SealedKey> {
    const kek = await this.currentKek();
    return { uri, kekId: kek.id, sealed: sealWith(kek.key, uri, material), createdAt: new Date(this.clock()) };
  }

  /** Stores sealed keys (from {@link seal} or {@link prepareKeys}); a URI that exists fails with VAULT_KEY_EXISTS. */
  async store(sealed: readonly SealedKey[], tx?: Tx): Promise<void> {
    try {
      await this.sealedKeys.insert([...sealed], tx);
    } catch (error) {
      if (isUniqueViolation(error)) throw new VaultError('VAULT_KEY_EXISTS', 'a key with that URI already exists');
      throw error;
    }
  }

  /** Seals and stores caller-supplied key material under `uri`. */
  async storeKey(uri: string, material: Buffer): Promise<void> {
    const sealed = await this.seal(uri, material);
    await this.db.write((tx) => this.store([sealed], tx));
  }

  /** The key stored under `uri`, or undefined. A row that was altered or moved throws VAULT_UNWRAP_FAILED. */
  async getKey(uri: string, tx?: Tx): Promise<Buffer | undefined> {
    const row = await this.sealedKeys.find(uri, tx);
    return row ? this.open(uri, row) : undefined;
  }

  /** The keys stored under `uris` that exist, by URI. */
  async getKeys(uris: readonly string[], tx?: Tx): Promise<Map<string, Buffer>> {
    return this.openAll(await this.sealedKeys.findMany([...uris], tx));
  }

  /**
   * {@link getKeys} for keys that, once stored, are never deleted or replaced (keys bound to a KMS
   * resource): their sealed rows are kept in a bounded cache (ciphertext, useless without the KEK),
   * so reading such a key again costs no query, and a key read again within
   * vault.contentKeyCacheIdle is not even opened again ({@link openedKeys}). Not for keys that can
   * be deleted (channel keys, unbound keys): a cached row or key would outlive its deletion.
   */
  async getPermanentKeys(uris: readonly string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    const now = this.clock();
    const idleMs = this.config.contentKeyCacheIdleSeconds * 1000;
    const closed = uris.filter((uri) => {
      const opened = this.openedKeys.get(uri);
      if (opened === undefined || now - opened.usedAt >= idleMs) return true;
      // Most recently used last, so that eviction and the idle sweep take the oldest first.
      this.openedKeys.delete(uri);
      this.openedKeys.set(uri, opened);
      opened.usedAt = now;
      // A copy: what the caller does with its key cannot change the one kept.
      found.set(uri, Buffer.from(opened.key));
      return false;
    });
    if (closed.length === 0) return found;
    const missing = closed.filter((uri) => !this.permanentRows.has(uri));
    if (missing.length > 0) {
      for (const row of await this.sealedKeys.findMany(missing)) {
        if (this.permanentRows.size >= PERMANENT_ROW_CACHE_LIMIT) this.permanentRows.delete(this.permanentRows.keys().next().value!);
        this.permanentRows.set(row.uri, row);
      }
    }
    for (const [uri, key] of await this.openAll(closed.flatMap((uri) => this.permanentRows.get(uri) ?? []))) {
      this.keepOpened(uri, key, now);
      found.set(uri, key);
    }
    return found;
  }

  private keepOpened(uri: string, key: Buffer, now: number): void {
    if (this.config.contentKeyCacheSize === 0) return;
    const kept = Buffer.allocUnsafeSlow(key.length);
    key.copy(kept);
    this.wipeOpened(uri);
    this.openedKeys.set(uri, { key: kept, usedAt: now });
    while (this.openedKeys.size > this.config.contentKeyCacheSize) this.wipeOpened(this.openedKeys.keys().next().value!);
  }

  private wipeOpened(uri: string): void {
    const opened = this.openedKeys.get(uri);
    if (opened === undefined) return;
    opened.key.fill(0);
    this.openedKeys.delete(uri);
  }

  /**
   * Wipes the opened keys idle for vault.contentKeyCacheIdle or longer (the oldest come first).
   * Runs every contentKeyCacheIdle, at most every minute.
   */
  wipeIdleKeys(): void {
    const idleSince = this.clock() - this.config.contentKeyCacheIdleSeconds * 1000;
    for (const [uri, opened] of this.openedKeys) {
      if (opened.usedAt > idleSince) break;
      this.wipeOpened(uri);
    }
  }

  /** How many content keys are kept opened in memory (metrics and tests). */
  get openedKeyCount(): number {
    return this.openedKeys.size;
  }

  deleteKey(uri: string, tx?: Tx): Promise<boolean> {
    return this.sealedKeys.delete(uri, tx);
  }

  /** Deletes the keys stored under `uris`; returns how many existed. */
  deleteKeys(uris: readonly string[], tx?: Tx): Promise<number> {
    return this.sealedKeys.deleteMany([...uris], tx);
  }

  /** Opens a sealed key; the URI must be the one it was sealed for. */
  async open(uri: string, sealed: { kekId: string; sealed: Buffer }): Promise<Buffer> {
    const kek = await this.kekById(sealed.kekId);
    this.counters.contentKeyOpens += 1;
    return openWith(kek, uri, sealed.sealed);
  }

  /**
   * Opens sealed rows, by URI: each distinct KEK is looked up once (a batch's keys share one or
   * two), then every row is opened without an await, instead of a KEK lookup and a promise per key.
   */
  private async openAll(rows: readonly SealedKeyRow[]): Promise<Map<string, Buffer>> {
    const keks = new Map<string, KeyObject>();
    for (const row of rows) if (!keks.has(row.kekId)) keks.set(row.kekId, await this.kekById(row.kekId));
    this.counters.contentKeyOpens += rows.length;
    return new Map(rows.map((row) => [row.uri, openWith(keks.get(row.kekId)!, row.uri, row.sealed)]));
  }

  /**
   * Master-key rotation: creates the next generation (or resumes a pending one) and re-wraps every
   * KEK under it, one row at a time, each row only if it is still under the old generation. Content
   * keys are not touched. Interrupted at any point, the next call resumes; when no KEK is left
   * under an older generation, the new generation becomes active and the old one inactive, ready
   * for {@link retireMaster}.
   */
  async rotateMaster(options: RotationOptions = {}): Promise<RotationReport> {
    const batchSize = options.batchSize ?? 100;
    const masters = await this.masterKeys.list();
    const active = masters.find((m) => m.state === 'active');
    if (!active) throw notInitialized();
    let pending = masters.find((m) => m.state === 'pending');
    if (!pending) {
      const row = this.createOrAdoptMasterKey(Math.max(...masters.map((m) => m.generation)) + 1, 'pending');
      pending = row;
      await this.db.write((tx) => this.masterKeys.insert(row, tx));
    }
    this.verifyCheckValue(pending);
    const target = pending.generation;
    let rewrapped = 0;
    for (;;) {
      const limit = options.stopAfter !== undefined ? Math.min(batchSize, options.stopAfter - rewrapped) : batchSize;
      const batch = limit > 0 ? await this.keks.notWrappedBy(target, limit) : [];
      for (const kek of batch) {
        const plain = this.unwrap(kek.masterGeneration, kek.wrapped);
        try {
          if (await this.keks.rewrap(kek.id, kek.masterGeneration, target, this.wrap(target, plain))) rewrapped += 1;
        } finally {
          plain.fill(0);
        }
      }
      if (batch.length > 0) options.onProgress?.(rewrapped);
      if (batch.length === 0 || (options.stopAfter !== undefined && rewrapped >= options.stopAfter)) break;
    }
    const remaining = (await this.keks.notWrappedBy(target, 1_000_000)).length;
    if (remaining > 0) return { fromGeneration: active.generation, toGeneration: target, rewrapped, remaining, completed: false };
    await this.db.write(async (tx) => {
      await this.masterKeys.transition(active.generation, 'active', 'inactive', tx);
      await this.masterKeys.transition(target, 'pending', 'active', tx);
    });
    return { fromGeneration: active.generation, toGeneration: target, rewrapped, remaining: 0, completed: true };
  }

  /** Destroys an inactive master-key generation that no KEK depends on any more. Irreversible. */
  async retireMaster(generation: number): Promise<void> {
    const master = (await this.masterKeys.list()).find((m) => m.generation === generation);
    if (!master) throw new VaultError('VAULT_ROTATION_STATE', `there is no master key generation ${generation}`);
    if (master.state === 'retired') return;
    if (master.state !== 'inactive') {
      throw new VaultError('VAULT_ROTATION_STATE', `master key generation ${generation} is ${master.state}: only an inactive generation (after a completed rotation) can be retired`);
    }
    const inUse = (await this.keks.countByGeneration()).get(generation) ?? 0;
    if (inUse > 0) throw new VaultError('VAULT_ROTATION_STATE', `master key generation ${generation} still wraps ${inUse} KEKs: finish the rotation first (realmctl vault rotate-master)`);
    this.backend.destroyMasterKey(generation);
    await this.db.write((tx) => this.masterKeys.transition(generation, 'inactive', 'retired', tx, new Date(this.clock())));
  }

  async status(): Promise<VaultStatus> {
    const [masters, counts] = await Promise.all([this.masterKeys.list(), this.keks.countByGeneration()]);
    return {
      backend: this.backend.describe(),
      masterKeys: masters.map((m) => ({
        generation: m.generation,
        state: m.state,
        createdAt: m.createdAt.toISOString(),
        retiredAt: m.retiredAt?.toISOString() ?? null,
        keks: counts.get(m.generation) ?? 0,
      })),
      currentEpoch: this.epochNow(),
      kekEpochSeconds: this.config.kekEpochSeconds,
    };
  }

  /** Ready when the backend answers and holds the active master-key generation. */
  async health(): Promise<{ ok: boolean; detail: string }> {
    const backend = this.backend.health();
    if (!backend.ok) return backend;
    const active = await this.activeMasterKey();
    if (!active) return { ok: false, detail: 'not initialised: no active master key' };
    if (!this.backend.hasMasterKey(active.generation)) return { ok: false, detail: `master key generation ${active.generation} is missing from the ${this.backend.kind} backend` };
    return { ok: true, detail: `${backend.detail}; master key generation ${active.generation} present` };
  }

  close(): void {
    clearInterval(this.openedKeysSweep);
    for (const uri of [...this.openedKeys.keys()]) this.wipeOpened(uri);
    this.kekCache.clear();
    this.current = undefined;
    this.backend.close();
  }

  /**
   * Creates master-key generation `generation` in the backend unless it is already there (a key
   * ceremony's pre-provisioned key, or one left by a rotation interrupted before its row was
   * written), and returns its bookkeeping row with the check value.
   */
  private createOrAdoptMasterKey(generation: number, state: 'active' | 'pending'): MasterKeyRow {
    if (!this.backend.hasMasterKey(generation)) this.backend.createMasterKey(generation);
    return {
      generation,
      backend: this.backend.kind,
      label: this.config.masterKeyLabel,
      state,
      checkValue: this.wrap(generation, CHECK_PLAINTEXT),
      createdAt: new Date(this.clock()),
      retiredAt: null,
    };
  }

  private epochNow(): number {
    return Math.floor(this.clock() / 1000 / this.config.kekEpochSeconds);
  }

  private async activeMasterKey(): Promise<MasterKeyRow | undefined> {
    return (await this.masterKeys.list()).find((m) => m.state === 'active');
  }

  /** The generation that wraps new KEKs: the pending one during a rotation, else the active one. */
  private async wrappingGeneration(): Promise<number> {
    const masters = await this.masterKeys.list();
    const chosen = masters.find((m) => m.state === 'pending') ?? masters.find((m) => m.state === 'active');
    if (!chosen) throw notInitialized();
    return chosen.generation;
  }

  private async currentKek(): Promise<{ epoch: number; id: string; key: KeyObject }> {
    const epoch = this.epochNow();
    if (this.current?.epoch === epoch) return this.current;
    // One lookup or creation at a time per process; other callers wait for it.
    this.creatingKek ??= this.loadOrCreateKek(epoch).finally(() => {
      this.creatingKek = undefined;
    });
    const kek = await this.creatingKek;
    if (kek.epoch !== epoch) return this.currentKek();
    this.current = kek;
    return kek;
  }

  private async loadOrCreateKek(epoch: number): Promise<{ epoch: number; id: string; key: KeyObject }> {
    let row = await this.keks.findByEpoch(epoch);
    if (!row) {
      const generation = await this.wrappingGeneration();
      const plain = randomKey();
      const candidate: KekRow = { id: randomUUID(), epoch, masterGeneration: generation, wrapped: this.wrap(generation, plain), createdAt: new Date(this.clock()) };
      plain.fill(0);
      try {
        await this.db.write((tx) => this.keks.insert(candidate, tx));
        row = candidate;
      } catch (error) {
        // Another node created this epoch's KEK first: use theirs.
        if (!isUniqueViolation(error)) throw error;
        row = await this.keks.findByEpoch(epoch);
        if (!row) throw error;
      }
    }
    return { epoch, id: row.id, key: await this.kekById(row.id, row) };
  }

  private async kekById(id: string, known?: KekRow): Promise<KeyObject> {
    const cached = this.kekCache.get(id);
    if (cached) {
      // Refresh recency: Map iteration order is insertion order, so this is an LRU.
      this.kekCache.delete(id);
      this.kekCache.set(id, cached);
      return cached;
    }
    const row = known ?? (await this.keks.findById(id));
    if (!row) throw unwrapFailed();
    const plain = this.unwrap(row.masterGeneration, row.wrapped);
    const key = createSecretKey(plain);
    plain.fill(0);
    this.kekCache.set(id, key);
    while (this.kekCache.size > this.config.kekCacheSize) this.kekCache.delete(this.kekCache.keys().next().value!);
    return key;
  }

  private wrap(generation: number, key: Buffer): Buffer {
    this.counters.backendWraps += 1;
    return this.backend.wrapKey(generation, key);
  }

  private unwrap(generation: number, wrapped: Buffer): Buffer {
    this.counters.backendUnwraps += 1;
    return this.backend.unwrapKey(generation, wrapped);
  }

  private verifyCheckValue(master: MasterKeyRow): void {
    let plain: Buffer;
    try {
      plain = this.unwrap(master.generation, master.checkValue);
    } catch (error) {
      if (error instanceof VaultError && error.code === 'VAULT_UNWRAP_FAILED') {
        throw new VaultError(
          'VAULT_MASTER_KEY_MISMATCH',
          `the ${this.backend.kind} backend holds a different master key generation ${master.generation} than the one this database was initialised with (check vault.masterKeyLabel, the token, or dataDir)`,
          { setting: 'vault.masterKeyLabel' },
        );
      }
      throw error;
    }
    if (!plain.equals(CHECK_PLAINTEXT)) throw new VaultError('VAULT_MASTER_KEY_MISMATCH', `master key generation ${master.generation} failed its check value`);
  }
}

function sealWith(kek: KeyObject, uri: string, material: Buffer): Buffer {
  return Buffer.concat([Buffer.of(SEALED_V1), aesGcmSeal(kek, material, Buffer.from(uri, 'utf8'))]);
}

/** Opens a sealed key (format byte, then AES-256-GCM with the key's URI as AAD) with its KEK. */
function openWith(kek: KeyObject, uri: string, sealed: Buffer): Buffer {
  if (sealed.length < 1 || sealed[0] !== SEALED_V1) throw unwrapFailed();
  try {
    return aesGcmOpen(kek, sealed.subarray(1), Buffer.from(uri, 'utf8'));
  } catch (error) {
    if (error instanceof CryptoError) throw unwrapFailed();
    throw error;
  }
}

function unwrapFailed(): VaultError {
  return new VaultError('VAULT_UNWRAP_FAILED', 'a sealed key was refused: it was altered, moved to another URI, or its KEK is unknown');
}

function notInitialized(): VaultError {
  return new VaultError('VAULT_NOT_INITIALIZED', 'the vault has no active master key: run `realmctl init`');
}

/** The backend the configuration names; PKCS#11 logs in before this returns. */
export function createBackend(config: RealmConfig): MasterKeyBackend {
  if (config.vault.backend === 'pkcs11') {
    const backend = new Pkcs11MasterKeyBackend(config.vault.pkcs11!, config.vault.masterKeyLabel);
    backend.open();
    return backend;
  }
  return new SoftwareMasterKeyBackend({ dataDir: config.dataDir, env: config.env });
}
