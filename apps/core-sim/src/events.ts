import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { FrameRecorder } from './recorder.js';
import type { Activity, CoreStore, User } from './store.js';

/**
 * Client event sockets (`GET /events`, docs/narrow-api.md §2.6): KMS answers for the user who
 * posted the batch, and new activities for the participants of the room (every room for org-bots).
 */
export class EventHub {
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly orgBots = new Map<WebSocket, string>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly store: CoreStore,
    private readonly recorder: FrameRecorder,
  ) {
    // RFC 6455 §5.5.2: clients answer pings by themselves; a socket that missed one is dead.
    const alive = new WeakMap<WebSocket, boolean>();
    this.heartbeat = setInterval(() => {
      for (const set of this.sockets.values()) {
        for (const ws of set) {
          if (alive.get(ws) === false) {
            ws.terminate();
            continue;
          }
          alive.set(ws, false);
          ws.once('pong', () => alive.set(ws, true));
          ws.ping();
        }
      }
    }, 30_000);
    this.heartbeat.unref();
  }

  connected(userId: string): boolean {
    return (this.sockets.get(userId)?.size ?? 0) > 0;
  }

  /** Registers the socket, sends `ready`, then any activity after `activitiesSince`. */
  attach(ws: WebSocket, user: User, activitiesSince: number | undefined): void {
    let set = this.sockets.get(user.userId);
    if (!set) this.sockets.set(user.userId, (set = new Set()));
    set.add(ws);
    if (user.kind === 'org-bot') this.orgBots.set(ws, user.userId);
    ws.on('close', () => {
      set.delete(ws);
      this.orgBots.delete(ws);
      if (set.size === 0) this.sockets.delete(user.userId);
    });
    ws.on('error', () => ws.terminate());
    this.sendTo(ws, user.userId, { type: 'ready', connectionId: randomUUID(), userId: user.userId });
    if (activitiesSince !== undefined) {
      let after = activitiesSince;
      for (;;) {
        const page = this.store.activities({ afterSeq: after, limit: 500, ...(user.kind !== 'org-bot' && { visibleTo: user.userId }) });
        for (const activity of page.items) this.sendTo(ws, user.userId, { type: 'activity.created', activity });
        if (page.nextCursor === null) break;
        after = Number(page.nextCursor);
      }
    }
  }

  /** Sends to every socket of the user; returns how many got it. */
  toUser(userId: string, frame: Record<string, unknown>): number {
    const set = this.sockets.get(userId);
    if (!set || set.size === 0) {
      this.recorder.record({ ...meta(frame), channel: 'events', direction: 'core→client', userId, note: 'undelivered: no events socket' });
      return 0;
    }
    for (const ws of set) this.sendTo(ws, userId, frame);
    return set.size;
  }

  activityCreated(activity: Activity): void {
    const frame = { type: 'activity.created', activity };
    const sent = new Set<WebSocket>();
    for (const userId of this.store.participants(activity.roomId)) {
      for (const ws of this.sockets.get(userId) ?? []) {
        this.sendTo(ws, userId, frame);
        sent.add(ws);
      }
    }
    for (const [ws, botId] of this.orgBots) if (!sent.has(ws)) this.sendTo(ws, botId, frame);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const set of this.sockets.values()) for (const ws of set) ws.close(1001, 'core shutting down');
  }

  private sendTo(ws: WebSocket, userId: string | undefined, frame: Record<string, unknown>): void {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify(frame));
    this.recorder.record({ ...meta(frame), channel: 'events', direction: 'core→client', ...(userId !== undefined && { userId }) });
  }
}

function meta(frame: Record<string, unknown>): { type: string; batchId?: string; kmsMessages?: string[]; status?: number; note?: string } {
  return {
    type: frame.type as string,
    ...(typeof frame.batchId === 'string' && { batchId: frame.batchId }),
    ...(Array.isArray(frame.kmsMessages) && { kmsMessages: frame.kmsMessages as string[] }),
    ...(typeof frame.status === 'number' && { status: frame.status }),
    ...(frame.type === 'activity.created' && { note: (frame.activity as Activity).id }),
  };
}
