import { KmsInit1763800004000 } from './1763800004000-kms-init.js';

export const KMS_MIGRATIONS = [KmsInit1763800004000];
