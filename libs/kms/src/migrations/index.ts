import { KmsInit1763800004000 } from './1763800004000-kms-init.js';
import { KmsHandshakeReplay1763800009000 } from './1763800009000-kms-handshake-replay.js';

export const KMS_MIGRATIONS = [KmsInit1763800004000, KmsHandshakeReplay1763800009000];
