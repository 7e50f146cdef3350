import { defineEntity } from '@realm/persistence';

export type MasterKeyState = 'active' | 'pending' | 'inactive' | 'retired';

/** One generation of the master key. The key itself is in the backend; this is its bookkeeping. */
export interface MasterKeyRow {
  generation: number;
  backend: string;
  label: string;
  state: MasterKeyState;
  /** RFC 5649 wrap of 32 zero bytes under this generation: proves at start that the backend holds the same key. */
  checkValue: Buffer;
  createdAt: Date;
  retiredAt: Date | null;
}

/** A key-encryption key, stored only wrapped by a master-key generation. One per epoch. */
export interface KekRow {
  id: string;
  epoch: number;
  masterGeneration: number;
  wrapped: Buffer;
  createdAt: Date;
}

/** A content key or other secret, AES-256-GCM under a KEK with the URI as additional data. */
export interface SealedKeyRow {
  uri: string;
  kekId: string;
  sealed: Buffer;
  createdAt: Date;
}

export const MasterKeyEntity = defineEntity<MasterKeyRow>({
  name: 'vault_master_keys',
  columns: {
    generation: { column: 'generation', type: 'int', primary: true },
    backend: { column: 'backend', type: 'string', length: 16 },
    label: { column: 'label', type: 'string', length: 64 },
    state: { column: 'state', type: 'string', length: 16 },
    checkValue: { column: 'check_value', type: 'binary' },
    createdAt: { column: 'created_at', type: 'timestamp' },
    retiredAt: { column: 'retired_at', type: 'timestamp', nullable: true },
  },
});

export const KekEntity = defineEntity<KekRow>({
  name: 'vault_keks',
  columns: {
    id: { column: 'id', type: 'string', length: 36, primary: true },
    epoch: { column: 'epoch', type: 'bigint' },
    masterGeneration: { column: 'master_generation', type: 'int' },
    wrapped: { column: 'wrapped', type: 'binary' },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const SealedKeyEntity = defineEntity<SealedKeyRow>({
  name: 'vault_keys',
  columns: {
    uri: { column: 'uri', type: 'string', length: 512, primary: true },
    kekId: { column: 'kek_id', type: 'string', length: 36 },
    sealed: { column: 'sealed', type: 'binary' },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});



/** An asymmetric key pair: the public half here, the private half sealed in vault_keys or in the token. */
export interface AsymmetricKeyRow {
  uri: string;
  algorithm: string;
  /** `sealed` (PKCS#8 in vault_keys under the same URI) or `pkcs11` (a token object with CKA_ID = `tokenId`). */
  location: string;
  tokenId: Buffer | null;
  publicKey: Buffer;
  createdAt: Date;
}

export const AsymmetricKeyEntity = defineEntity<AsymmetricKeyRow>({
  name: 'vault_asymmetric_keys',
  columns: {
    uri: { column: 'uri', type: 'string', length: 512, primary: true },
    algorithm: { column: 'algorithm', type: 'string', length: 16 },
    location: { column: 'location', type: 'string', length: 16 },
    tokenId: { column: 'token_id', type: 'binary', nullable: true },
    publicKey: { column: 'public_key', type: 'binary' },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const VAULT_ENTITIES = [MasterKeyEntity, KekEntity, SealedKeyEntity, AsymmetricKeyEntity];
