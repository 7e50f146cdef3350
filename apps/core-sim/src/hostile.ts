import { createCipheriv, createPublicKey, constants, generateKeyPairSync, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import type { EventHub } from './events.js';
import { type KmsRelay, type RelayBatch, RelayRefusal, type RelayResult } from './kms-relay.js';
import type { FrameRecorder } from './recorder.js';
import type { CoreStore } from './store.js';
import { issueCertificate } from './tls/x509-cert.js';

/**
 * The path of a client's KMS batch through the core, and the switches that make the core hostile
 * for the end-to-end tests (apps/core-sim/README.md, "Hostile switches"). Everything a real
 * malicious core could do with what it sees: keep and resend ciphertext, misroute answers, inject
 * messages of its own, lie in discovery, drop or delay. It cannot read or forge what is inside.
 */

export interface Faults {
  dropRequests: number;
  dropResponses: number;
  delayRequestsMs: number;
  delayResponsesMs: number;
  /** Only this user's batches (absent: everyone's). */
  userId?: string;
}

interface Captured {
  batchId: string;
  userId: string;
  at: string;
  kmsMessages: string[];
}

interface HeldForSwap {
  userId: string;
  batchId: string;
  kmsMessages: string[];
  timer: NodeJS.Timeout;
}

export type ControlResult = { batchId: string } & ({ kmsMessages: string[] } | { failure: { status: number; code: string; message: string } });

const NO_FAULTS: Faults = { dropRequests: 0, dropResponses: 0, delayRequestsMs: 0, delayResponsesMs: 0 };
const CAPTURE_LIMIT = 200;

export class BatchPath {
  private faults: Faults = { ...NO_FAULTS };
  private swap: { userA: string; userB: string; holdMs: number; held?: HeldForSwap } | undefined;
  private forgedDiscovery: Record<string, unknown> | undefined;
  private readonly captured: Captured[] = [];

  constructor(
    private readonly relay: KmsRelay,
    private readonly events: EventHub,
    private readonly store: CoreStore,
    private readonly recorder: FrameRecorder,
  ) {}

  /**
   * A client's POST /kms/messages, after validation. Throws a RelayRefusal when no KMS node is
   * connected (the client gets a 503 at once); otherwise the answer comes on its events socket.
   */
  clientBatch(userId: string, kmsMessages: string[]): string {
    if (this.relay.readyLinks() === 0) throw new RelayRefusal(503, 'KMS_UNAVAILABLE', `no KMS node of ${this.relay.cluster} is connected to the core; retry later`);
    const batchId = randomUUID();
    this.recorder.record({ channel: 'http', direction: 'client→core', type: 'POST /kms/messages', userId, batchId, kmsMessages });
    this.captured.push({ batchId, userId, at: new Date().toISOString(), kmsMessages });
    if (this.captured.length > CAPTURE_LIMIT) this.captured.shift();

    const f = this.faults;
    const applies = f.userId === undefined || f.userId === userId;
    if (applies && f.dropRequests > 0) {
      f.dropRequests--;
      this.recorder.record({ channel: 'link', direction: 'core→appliance', type: 'kms.request', userId, batchId, hostile: 'drop', note: 'dropped, never sent' });
      return batchId;
    }
    if (this.swap && (userId === this.swap.userA || userId === this.swap.userB)) {
      const swap = this.swap;
      if (!swap.held) {
        swap.held = { userId, batchId, kmsMessages, timer: setTimeout(() => this.releaseHeld(), swap.holdMs) };
        return batchId;
      }
      if (swap.held.userId !== userId) {
        const held = swap.held;
        clearTimeout(held.timer);
        this.swap = undefined;
        // Each user's batch id now carries the other user's messages: answers go to the wrong user.
        this.submitLater(held.userId, held.batchId, kmsMessages, 0, 'swap');
        this.submitLater(userId, batchId, held.kmsMessages, 0, 'swap');
        return batchId;
      }
    }
    if (applies && f.delayRequestsMs > 0) {
      this.submitLater(userId, batchId, kmsMessages, f.delayRequestsMs, 'delay');
      return batchId;
    }
    this.relay.submit(this.toRelay(userId, batchId, kmsMessages));
    return batchId;
  }

  private releaseHeld(): void {
    const held = this.swap?.held;
    if (!held) return;
    // One-shot either way: the other user sent nothing in time, so the swap is off.
    this.swap = undefined;
    this.submitLater(held.userId, held.batchId, held.kmsMessages, 0);
  }

  private submitLater(userId: string, batchId: string, kmsMessages: string[], delayMs: number, hostile?: string): void {
    const go = () => {
      try {
        this.relay.submit(this.toRelay(userId, batchId, kmsMessages, hostile));
      } catch (e) {
        if (!(e instanceof RelayRefusal)) throw e;
        this.deliver(userId, batchId, { failure: { status: e.status, code: 'KMS_UNAVAILABLE', message: e.message } });
      }
    };
    if (delayMs > 0) setTimeout(go, delayMs);
    else go();
  }

  private toRelay(userId: string, batchId: string, kmsMessages: string[], hostile?: string): RelayBatch {
    return {
      batchId,
      userId,
      kmsMessages,
      ...(hostile && { hostile }),
      done: (result) => {
        const f = this.faults;
        const applies = f.userId === undefined || f.userId === userId;
        if (applies && f.dropResponses > 0 && 'kmsMessages' in result) {
          f.dropResponses--;
          this.recorder.record({ channel: 'events', direction: 'core→client', type: 'kms.response', userId, batchId, hostile: 'drop', note: 'answer dropped' });
          return;
        }
        if (applies && f.delayResponsesMs > 0) setTimeout(() => this.deliver(userId, batchId, result), f.delayResponsesMs);
        else this.deliver(userId, batchId, result);
      },
    };
  }

  private deliver(userId: string, batchId: string, result: RelayResult): void {
    if ('kmsMessages' in result) this.events.toUser(userId, { type: 'kms.response', batchId, kmsMessages: result.kmsMessages });
    else this.events.toUser(userId, { type: 'kms.failed', batchId, ...result.failure });
  }

  // ---- discovery as served to clients ----

  discovery(): Record<string, unknown> | undefined {
    return this.forgedDiscovery ?? this.store.discovery(this.relay.cluster);
  }

  // ---- control: the hostile switches ----

  setFaults(faults: Partial<Faults>): Faults {
    this.faults = { ...NO_FAULTS, ...faults };
    return this.getFaults();
  }

  getFaults(): Faults {
    return { ...this.faults };
  }

  armSwap(userA: string, userB: string, holdMs: number): void {
    if (this.swap?.held) clearTimeout(this.swap.held.timer);
    this.swap = { userA, userB, holdMs };
  }

  capturedBatches(): Omit<Captured, 'kmsMessages'>[] {
    return this.captured.map(({ kmsMessages, ...rest }) => ({ ...rest, messageCount: kmsMessages.length }));
  }

  /** Sends a captured batch again, as new; resolves with what the KMS answered. */
  replay(batchId: string, deliverToOriginal: boolean): Promise<ControlResult> | undefined {
    const captured = this.captured.find((c) => c.batchId === batchId);
    if (!captured) return undefined;
    return this.coreBatch(captured.kmsMessages, 'replay', deliverToOriginal ? captured.userId : undefined);
  }

  /** Relays messages the core made itself; resolves with what the KMS answered. */
  inject(kmsMessages: string[], deliverTo: string | undefined): Promise<ControlResult> {
    return this.coreBatch(kmsMessages, 'inject', deliverTo);
  }

  /**
   * The ECDHE handshake a core could build on its own: a JWE (RSA-OAEP, A256GCM) to the static key
   * it caches, carrying a credential of its choosing (its own token, or a forged one).
   */
  buildHandshake(bearer: string, clientId: string): string | undefined {
    const jwk = this.store.discovery(this.relay.cluster) as { kid: string; n: string; e: string } | undefined;
    if (!jwk) return undefined;
    const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const payload = {
      client: { clientId, credential: { bearer } },
      method: 'create',
      uri: `${this.relay.cluster}/ecdhe`,
      requestId: randomUUID(),
      jwk: ephemeral,
    };
    const header = Buffer.from(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: jwk.kid })).toString('base64url');
    const cek = randomBytes(32);
    const rsa = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    // RFC 7518 §4.3: RSA-OAEP is OAEP with SHA-1 and MGF1-SHA-1.
    const encryptedKey = publicEncrypt({ key: rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, cek);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', cek, iv);
    cipher.setAAD(Buffer.from(header, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return [header, encryptedKey.toString('base64url'), iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** Serves `jwk` instead of the KMS's key in GET /kms/{cluster}; `generate` makes a self-signed one naming the KMS domain. */
  forgeDiscovery(jwk: Record<string, unknown> | 'generate'): Record<string, unknown> {
    if (jwk === 'generate') {
      const host = new URL(this.relay.cluster.replace(/^kms:/, 'https:')).hostname;
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = issueCertificate({ commonName: host, publicKey, signingKey: privateKey, serverAuth: true, dnsNames: [host] });
      const der = pem.replace(/-----[^-]+-----|\s/g, '');
      const genuine = this.store.discovery(this.relay.cluster) as { kid?: string } | undefined;
      const { n, e } = publicKey.export({ format: 'jwk' });
      jwk = { kty: 'RSA', kid: genuine?.kid ?? `${this.relay.cluster}/static/forged`, n, e, x5c: [der] };
    }
    this.forgedDiscovery = jwk;
    return jwk;
  }

  clearForgedDiscovery(): void {
    this.forgedDiscovery = undefined;
  }

  private coreBatch(kmsMessages: string[], hostile: string, deliverTo: string | undefined): Promise<ControlResult> {
    const batchId = randomUUID();
    this.recorder.record({ channel: 'http', direction: 'client→core', type: 'control: core-made batch', batchId, hostile, kmsMessages, ...(deliverTo && { userId: deliverTo }) });
    return new Promise((resolve) => {
      const done = (result: RelayResult) => {
        if (deliverTo) this.deliver(deliverTo, batchId, result);
        resolve({ batchId, ...result });
      };
      try {
        this.relay.submit({ batchId, kmsMessages, hostile, done });
      } catch (e) {
        if (!(e instanceof RelayRefusal)) throw e;
        resolve({ batchId, failure: { status: e.status, code: e.code, message: e.message } });
      }
    });
  }
}
