/**
 * The port every master-key backend implements. The master key never leaves the backend: it wraps
 * and unwraps KEKs with AES Key Wrap with Padding (RFC 5649; PKCS#11 CKM_AES_KEY_WRAP_PAD), whose
 * integrity check refuses any blob that was altered or wrapped under another key.
 *
 * Master keys are numbered by generation (1, 2, ...): rotation creates the next generation.
 * Calls are synchronous where the backend is: PKCS#11 calls cost 30-40 µs, cheaper than a hop to
 * the thread pool.
 */
export interface MasterKeyBackend {
  readonly kind: 'software' | 'pkcs11';
  /** Whether generation `generation` exists in the backend. */
  hasMasterKey(generation: number): boolean;
  /** Creates generation `generation`; throws VAULT_KEY_EXISTS if it already exists. */
  createMasterKey(generation: number): void;
  /** Destroys generation `generation` (retirement). Irreversible. */
  destroyMasterKey(generation: number): void;
  wrapKey(generation: number, key: Buffer): Buffer;
  /** Throws VAULT_UNWRAP_FAILED for a blob that was not wrapped by this key or was altered. */
  unwrapKey(generation: number, wrapped: Buffer): Buffer;
  /** A cheap liveness probe of the backend (token present, session usable). */
  health(): { ok: boolean; detail: string };
  /** Non-secret facts for `realmctl status`. */
  describe(): Record<string, string>;
  close(): void;
}
