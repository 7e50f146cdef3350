export type { MasterKeyBackend } from './backends/master-key-backend.js';
export { Pkcs11MasterKeyBackend, type MasterKeyAttributes } from './backends/pkcs11/pkcs11-master-key.backend.js';
export { SoftwareMasterKeyBackend } from './backends/software-master-key.backend.js';
export { VAULT_ENTITIES, type MasterKeyState } from './hierarchy/vault.entities.js';
export { createBackend, KeyVault, type SealedKey, type RotationOptions, type RotationReport, type VaultCounters, type VaultOptions, type VaultStatus } from './key-vault.js';
export { VAULT_MIGRATIONS } from './migrations/index.js';
export { VaultError, type VaultErrorCode } from './vault.error.js';
export { VaultModule } from './vault.module.js';
export { RsaKeyStore } from './rsa-key-store.js';
