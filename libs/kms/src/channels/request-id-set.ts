/** What the replay check asks of a channel's requestIds. */
export interface ReadonlyRequestIdSet {
  has(requestId: string): boolean;
}

// Four 32-bit words per slot: the 128 bits of a UUID. A slot of four zero words is empty (the nil
// UUID itself is kept with the other strings).
const WORDS = 4;
// A power of two (Fibonacci hashing takes the top bits of the product).
const INITIAL_SLOT_BITS = 6;
// Linear probing stays short below this load.
const MAX_LOAD = 0.7;
// The 8-4-4-4-12 form of RFC 9562 §4, lowercase hex: the form clients generate (Webex clients and
// node-kms use UUIDs; @realm/kms-client uses randomUUID).
const UUID_LENGTH = 36;

/**
 * A channel's requestIds, exactly, without an object per requestId for the garbage collector.
 *
 * A busy appliance records tens of thousands of requestIds a second, and every node holds each one
 * for its channel's lifetime (up to an hour) to refuse replays. In a Set of strings each is a heap
 * object that survives scavenges, is copied twice and promoted, and is traced by every
 * mark-compact after that: GC pauses that grow with the traffic of the last hour. Here a requestId
 * in the lowercase 8-4-4-4-12 UUID form is held as its 128 bits in an open-addressing table on a
 * typed array (off the JavaScript heap: nothing for the collector to trace), 23 to 46 bytes each
 * (16 at a load of 0.35 to 0.7) instead of about 90. Every other string (another case, another
 * form, the nil UUID) is held as itself in a Set beside it. Either way membership is exact: two
 * requestIds are the same member only if they are the same string.
 *
 * Measured with a million requestIds held over 100 channels (the replay cache's bound), on one
 * thread as the workers collect: a full mark-compact took 3–5 ms instead of 52, and the process
 * held 96 MB instead of 175.
 */
export class RequestIdSet implements ReadonlyRequestIdSet {
  private slots = new Uint32Array((1 << INITIAL_SLOT_BITS) * WORDS);
  private uuids = 0;
  private readonly others = new Set<string>();
  /** The words of the requestId being looked up: parsed once per call, never allocated. */
  private readonly words = new Uint32Array(WORDS);

  get size(): number {
    return this.uuids + this.others.size;
  }

  has(requestId: string): boolean {
    if (!this.parse(requestId)) return this.others.has(requestId);
    return !this.isEmptyAt(this.find(this.slots, this.words));
  }

  /** Adds a requestId; false when it was held already. */
  add(requestId: string): boolean {
    if (!this.parse(requestId)) {
      const before = this.others.size;
      this.others.add(requestId);
      return this.others.size > before;
    }
    const slot = this.find(this.slots, this.words);
    if (!this.isEmptyAt(slot)) return false;
    this.slots.set(this.words, slot * WORDS);
    this.uuids += 1;
    if (this.uuids > (this.slots.length / WORDS) * MAX_LOAD) this.grow();
    return true;
  }

  /**
   * The words of a lowercase 8-4-4-4-12 UUID other than the nil UUID into `words`; false for any
   * other string.
   */
  private parse(requestId: string): boolean {
    if (requestId.length !== UUID_LENGTH) return false;
    const words = this.words;
    words.fill(0);
    let nibble = 0;
    for (let i = 0; i < UUID_LENGTH; i++) {
      const code = requestId.charCodeAt(i);
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (code !== 0x2d) return false;
        continue;
      }
      let value: number;
      if (code >= 0x30 && code <= 0x39) value = code - 0x30;
      else if (code >= 0x61 && code <= 0x66) value = code - 0x61 + 10;
      else return false;
      const word = nibble >>> 3;
      words[word] = ((words[word]! << 4) | value) >>> 0;
      nibble += 1;
    }
    return (words[0]! | words[1]! | words[2]! | words[3]!) !== 0;
  }

  /** The slot holding `words` in `slots`, or the empty slot where they would go. */
  private find(slots: Uint32Array, words: Uint32Array): number {
    const mask = slots.length / WORDS - 1;
    const bits = 31 - Math.clz32(mask + 1);
    // Fibonacci hashing (Knuth, TAOCP vol. 3 §6.4) of the four words together: version 4 UUIDs are
    // random in every word, time-based ones vary most in their first.
    let slot = Math.imul(words[0]! ^ words[1]! ^ words[2]! ^ words[3]!, 0x9e3779b1) >>> (32 - bits);
    for (;;) {
      const at = slot * WORDS;
      if (slots[at] === words[0] && slots[at + 1] === words[1] && slots[at + 2] === words[2] && slots[at + 3] === words[3]) return slot;
      if ((slots[at]! | slots[at + 1]! | slots[at + 2]! | slots[at + 3]!) === 0) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private isEmptyAt(slot: number): boolean {
    const at = slot * WORDS;
    const slots = this.slots;
    return (slots[at]! | slots[at + 1]! | slots[at + 2]! | slots[at + 3]!) === 0;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Uint32Array(old.length * 2);
    const words = new Uint32Array(WORDS);
    for (let at = 0; at < old.length; at += WORDS) {
      if ((old[at]! | old[at + 1]! | old[at + 2]! | old[at + 3]!) === 0) continue;
      words.set(old.subarray(at, at + WORDS));
      slots.set(words, this.find(slots, words) * WORDS);
    }
    this.slots = slots;
  }
}
