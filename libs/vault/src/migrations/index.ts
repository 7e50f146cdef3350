import { VaultInit1763800000000 } from './1763800000000-vault-init.js';

export const VAULT_MIGRATIONS = [VaultInit1763800000000];
