import { VaultInit1763800000000 } from './1763800000000-vault-init.js';
import { VaultAsymmetricKeys1763800003000 } from './1763800003000-vault-asymmetric-keys.js';

export const VAULT_MIGRATIONS = [VaultInit1763800000000, VaultAsymmetricKeys1763800003000];
