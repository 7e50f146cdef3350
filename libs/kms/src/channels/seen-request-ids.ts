import { type ReadonlyRequestIdSet, RequestIdSet } from './request-id-set.js';

/** A channel's replay log as far as this node has seen it committed. */
export interface SeenLog {
  /** The last log row included (0: none). */
  readonly seq: number;
  readonly requestIds: ReadonlyRequestIdSet;
}

interface ChannelLog {
  readonly replayKey: number;
  seq: number;
  readonly requestIds: RequestIdSet;
}

// 23 to 46 bytes each for UUIDs, off the JavaScript heap (RequestIdSet), about 90 for other
// strings: at most about 46 MB per process with the UUIDs clients send. A channel pushed out is
// read again from its log, whole, the next time it is used.
const DEFAULT_MAX_REQUEST_IDS = 1_000_000;

const NOTHING_SEEN: SeenLog = { seq: 0, requestIds: new RequestIdSet() };

/**
 * This node's memory of the channels' replay logs (kms_replay_log): for each channel it served
 * lately, the requestIds of the log rows it knows were committed, and the number of the last.
 * Recording a batch reads only the rows appended after that (by other nodes) in its transaction.
 *
 * Only committed rows enter it ({@link committed} is called from Tx.afterCommit): rows seen inside
 * a transaction that then rolled back would make it skip the rows another node commits under the
 * same numbers, and so miss their requestIds. Rows are taken strictly in order, so it never has a
 * gap. Bounded by the number of requestIds held: the least recently used channels are forgotten.
 */
export class SeenRequestIds {
  /** By channel URI, least recently used first. */
  private readonly channels = new Map<string, ChannelLog>();
  private held = 0;

  constructor(private readonly maxRequestIds = DEFAULT_MAX_REQUEST_IDS) {}

  /** What this node has seen committed of the channel's log (nothing, for a channel it does not hold). */
  of(uri: string, replayKey: number): SeenLog {
    const log = this.channels.get(uri);
    if (!log) return NOTHING_SEEN;
    this.channels.delete(uri);
    // A URI names one channel, whose replay key never changes; anything else is not this channel's log.
    if (log.replayKey !== replayKey) {
      this.held -= log.requestIds.size;
      return NOTHING_SEEN;
    }
    this.channels.set(uri, log);
    return log;
  }

  /**
   * Takes committed log rows of a channel, in order: a row is added only if it follows the last one
   * held (or is the channel's first), so rows held already are skipped and nothing after a gap is taken.
   */
  committed(uri: string, replayKey: number, rows: readonly { readonly seq: number; readonly requestIds: readonly string[] }[]): void {
    let log = this.channels.get(uri);
    if (log && log.replayKey !== replayKey) {
      this.forget(uri);
      log = undefined;
    }
    for (const row of rows) {
      if (!log) {
        if (row.seq !== 1) continue;
        log = { replayKey, seq: 0, requestIds: new RequestIdSet() };
        this.channels.set(uri, log);
      }
      if (row.seq <= log.seq) continue;
      if (row.seq !== log.seq + 1) break;
      const before = log.requestIds.size;
      for (const requestId of row.requestIds) log.requestIds.add(requestId);
      this.held += log.requestIds.size - before;
      log.seq = row.seq;
    }
    while (this.held > this.maxRequestIds && this.channels.size > 1) this.forget(this.channels.keys().next().value!);
  }

  /** Drops a channel (deleted, expired, or pushed out by the bound). */
  forget(uri: string): void {
    const log = this.channels.get(uri);
    if (!log) return;
    this.held -= log.requestIds.size;
    this.channels.delete(uri);
  }
}
