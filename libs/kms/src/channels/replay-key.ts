import { randomBytes } from 'node:crypto';

/**
 * A channel's key in its replay log: 53 random bits, the most a JavaScript number (and the
 * bigint columns' transformer) holds exactly. The column is unique; with 100,000 channels open at
 * once, two drawing the same key has a probability of about 5 × 10⁻⁷, and the insert of the second
 * then fails closed (its handshake is refused and the client negotiates again).
 */
export function newReplayKey(): number {
  return Number(randomBytes(8).readBigUInt64BE() >> 11n);
}
