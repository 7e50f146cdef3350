import { createHash } from 'node:crypto';

/**
 * Metadata of every frame that crosses the simulator (never its content), for tests to assert
 * what was relayed. In memory only, a ring of the last `capacity` frames.
 */

export type Direction = 'client→core' | 'core→client' | 'core→appliance' | 'appliance→core';

export interface FrameRecord {
  seq: number;
  at: string;
  channel: 'http' | 'events' | 'link';
  direction: Direction;
  /** Frame type, or `METHOD /route` for HTTP. */
  type: string;
  status?: number;
  userId?: string;
  batchId?: string;
  frameId?: string;
  linkId?: string;
  nodeId?: string;
  messageCount?: number;
  /** Length of each KMS message, in characters. */
  messageBytes?: number[];
  /** SHA-256 (hex) of each KMS message: equal digests mean the very same ciphertext. */
  messageDigests?: string[];
  /** Set when a hostile switch acted on this frame: replay, swap, inject, drop, delay. */
  hostile?: string;
  note?: string;
}

export type FrameInput = Omit<FrameRecord, 'seq' | 'at' | 'messageCount' | 'messageBytes' | 'messageDigests'> & { kmsMessages?: readonly string[] };

export class FrameRecorder {
  private readonly frames: FrameRecord[] = [];
  private next = 1;

  constructor(private readonly capacity = 20_000) {}

  record(input: FrameInput): void {
    const { kmsMessages, ...rest } = input;
    const record: FrameRecord = { seq: this.next++, at: new Date().toISOString(), ...rest };
    if (kmsMessages) {
      record.messageCount = kmsMessages.length;
      record.messageBytes = kmsMessages.map((m) => m.length);
      record.messageDigests = kmsMessages.map((m) => createHash('sha256').update(m).digest('hex'));
    }
    this.frames.push(record);
    if (this.frames.length > this.capacity) this.frames.splice(0, this.frames.length - this.capacity);
  }

  list(afterSeq = 0, limit = 1000): FrameRecord[] {
    return this.frames.filter((f) => f.seq > afterSeq).slice(0, limit);
  }

  clear(): void {
    this.frames.length = 0;
  }
}
