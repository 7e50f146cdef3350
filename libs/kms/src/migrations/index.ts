import { KmsInit1763800004000 } from './1763800004000-kms-init.js';
import { KmsHandshakeReplay1763800009000 } from './1763800009000-kms-handshake-replay.js';
import { KmsReplayChannelKey1763800010000 } from './1763800010000-kms-replay-channel-key.js';
import { KmsReplayLog1763800011000 } from './1763800011000-kms-replay-log.js';

export const KMS_MIGRATIONS = [KmsInit1763800004000, KmsHandshakeReplay1763800009000, KmsReplayChannelKey1763800010000, KmsReplayLog1763800011000];
