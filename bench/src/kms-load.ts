/**
 * The load process of the KMS benchmark (a separate process from the appliance): opens N channels,
 * each with its own user token, and drives the appliance with batches of up to 50 messages per
 * POST, all channels at once. Prints one JSON line with the measured figures.
 *
 * argv: <url> <tls-ca-file> <kms-ca-file> <tokens-file (one per line)> <channels> <batch> <seconds> <paced retrievals/s> [appliance pid] [TLS key file, workers: for the ceiling]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'node:https';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { decryptDirA256Gcm, deriveChannelKey, encryptDirA256Gcm, encryptRsaOaepJwe, generateEphemeralP256, importP256PublicJwk, verifyCompactJws } from '@realm/crypto';
import { validateStaticKey } from '@realm/kms-client';

const [url, tlsCaFile, kmsCaFile, tokensFile, channelsArg, batchArg, secondsArg, pacedArg, appliancePidArg, tlsKeyFile, workersArg] = process.argv.slice(2);
const tlsCa = readFileSync(tlsCaFile!);
const tokens = readFileSync(tokensFile!, 'utf8').trim().split('\n');
const channelCount = Number(channelsArg);
const batch = Number(batchArg);
const seconds = Number(secondsArg);
const pacedRate = Number(pacedArg);
/**
 * Each channel stands for one client and has its own keep-alive connection, as a Webex client has:
 * one shared pool would hand a lightly loaded phase's batches to the few sockets last used (the
 * agent's LIFO scheduling), all on whichever appliance worker accepted them, and measure one worker
 * at several times the load of the other (seen: 870 against 125 batches in the paced phase).
 * Connections are opened anew for each phase: one left idle between phases may be closed by the
 * server (keepAliveTimeout) just as the next phase reuses it.
 */
const newConnection = () => new Agent({ keepAlive: true, maxSockets: 1, ca: tlsCa });
/** For discovery and setup. */
const setupAgent = newConnection();

/**
 * One HTTPS exchange; resolves with the status and the body as it arrived, in chunks: a phase keeps
 * them as they are and joins them after its clock stops (joining 35 KB per batch on the clock was a
 * tenth of this process's CPU, taken from the cores the appliance is measured on).
 */
function exchangeChunks(path: string, body: string | Buffer | undefined, agent: Agent = setupAgent, base: string = url!): Promise<{ status: number; chunks: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: body === undefined ? 'GET' : 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, chunks }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One HTTPS exchange; resolves with the status and the whole body. */
async function exchange(path: string, body: string | Buffer | undefined, agent: Agent = setupAgent, base: string = url!): Promise<{ status: number; body: Buffer }> {
  const { status, chunks } = await exchangeChunks(path, body, agent, base);
  return { status, body: Buffer.concat(chunks) };
}

/**
 * CPU seconds (user + system) used so far by a server (the appliance, or the ceiling): its process
 * and every descendant (the http.workers), from /proc. CPU time per retrieval does not count time spent waiting for a core
 * that someone else holds, so it moves less than a rate with what else runs on the machine (it still
 * moves with the speed of the cores); the figure to compare between builds. undefined without /proc.
 */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function serverCpuSeconds(pid: string | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let ticks = 0;
    const pending = [pid];
    while (pending.length > 0) {
      const pid = pending.pop()!;
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of stat.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      for (const task of readdirSync(`/proc/${pid}/task`)) pending.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(' ').filter((c) => c.length > 0));
    }
    return ticks / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * The floor: the same codec's decrypt of one request and encrypt of its answer, in one process with
 * nothing else (codec-floor.ts, a fresh process with the V8 flags the bench passes in
 * REALM_BENCH_FLOOR_NODE_ARGS). Measured while the appliance is idle just before and just
 * after the saturated phase, so that the floor and the rate it is compared with see the same
 * machine. On this VM each core, on its own, runs the codec at one of two speeds, switching in
 * spells of seconds whatever the other core does (seen pinned with taskset: about 35k or 60k
 * operations per second one day, 75k-82k on another), so an unpinned process measures whichever
 * core and spell it lands on. Seven rounds each time; the floor is the median of the rounds before
 * and after, so that one disturbed round, or a drift during the phase, moves it little.
 */
function codecFloorRounds(): number[] {
  const nodeArgs = JSON.parse(process.env.REALM_BENCH_FLOOR_NODE_ARGS ?? '[]') as string[];
  const script = fileURLToPath(new URL('./codec-floor.js', import.meta.url));
  return JSON.parse(execFileSync(process.execPath, [...nodeArgs, script, String(tokens[0]!.length)], { encoding: 'utf8' })) as number[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2);
};

/** The floor from its rounds before and after a phase: their medians, the median of all, the slowest and fastest round. */
function floorOf(before: number[], after: number[]): NonNullable<PhaseResult['floor']> {
  const rounds = [...before, ...after];
  return { before: median(before), after: median(after), median: median(rounds), slowest: Math.round(Math.min(...rounds)), fastest: Math.round(Math.max(...rounds)) };
}

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const answer = await exchange(path, body === undefined ? undefined : JSON.stringify(body));
  if (answer.status !== 200) throw new Error(`${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`);
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
}

interface Channel {
  uri: string;
  key: Buffer;
  token: string;
  keys: string[];
  /** This client's connection. */
  connection: Agent;
}

const discovery = await post('/kms/discovery', undefined);
const staticKey = validateStaticKey(discovery.rsaPublicKey, { trustedRoots: [readFileSync(kmsCaFile!, 'utf8')] });

/** The POST body of one batch on a channel: each message a fresh requestId, encrypted to the channel key. */
const batchBody = (channel: Channel, bodies: Record<string, unknown>[]) =>
  Buffer.from(JSON.stringify({ kmsMessages: bodies.map((fields) => encryptDirA256Gcm(channel.key, channel.uri, Buffer.from(JSON.stringify({ client: { clientId: 'bench', credential: { bearer: channel.token } }, requestId: randomUUID(), ...fields })))) }));

/** Decrypts and parses the answers of one batch. */
const answersOf = (channel: Channel, status: number, body: Buffer) => {
  if (status !== 200) throw new Error(`${status} ${body.toString('utf8').slice(0, 200)}`);
  const { kmsMessages } = JSON.parse(body.toString('utf8')) as { kmsMessages: string[] };
  return kmsMessages.map((m) => JSON.parse(decryptDirA256Gcm(channel.key, m).plaintext.toString('utf8')) as Record<string, unknown>);
};

const send = async (channel: Channel, bodies: Record<string, unknown>[], base: string = url!) => {
  const answer = await exchange('/kms/messages', batchBody(channel, bodies), channel.connection, base);
  return answersOf(channel, answer.status, answer.body);
};

async function open(token: string): Promise<Channel> {
  const ephemeral = generateEphemeralP256();
  const body = { client: { clientId: 'bench', credential: { bearer: token } }, method: 'create', uri: 'kms://kms.realm.test/ecdhe', requestId: randomUUID(), jwk: ephemeral.publicJwk };
  const answer = await post('/kms/messages', { kmsMessages: [encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify(body)))] });
  const negotiated = JSON.parse(verifyCompactJws((answer.kmsMessages as string[])[0]!, staticKey.publicKey, { algorithms: ['PS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; key: { uri: string; jwk: unknown } };
  if (negotiated.status !== 201) throw new Error(`handshake refused: ${JSON.stringify(negotiated)}`);
  const channel: Channel = { uri: negotiated.key.uri, key: deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(negotiated.key.jwk)), token, keys: [], connection: newConnection() };
  // Each channel's user owns a conversation with bound keys to retrieve.
  const [created] = await send(channel, [{ method: 'create', uri: 'kms://kms.realm.test/keys', count: batch }]);
  channel.keys = (created!.keys as { uri: string }[]).map((k) => k.uri);
  await send(channel, [{ method: 'create', uri: 'kms://kms.realm.test/resources', keyUris: channel.keys }]);
  return channel;
}

process.stderr.write('opening channels\n');
const channels: Channel[] = [];
for (let i = 0; i < channelCount; i += 10) channels.push(...(await Promise.all(tokens.slice(i, i + 10).map(open))));

/**
 * Drives every channel at once. Closed loop (`ratePerSecond` undefined): each channel sends its next
 * batch as soon as the previous one is answered, which measures the saturated rate (and, by
 * Little's law, latencies of channels × batch / rate). Paced: each channel sends one batch every
 * channels × batch / ratePerSecond seconds on average, at exponentially distributed intervals (a
 * Poisson process at the target rate in all), which measures latency at that load.
 *
 * The load is a client fleet, not part of the server: on a 2-core machine its own encryption would
 * take the cores the appliance is measured on. So, as load generators do, every batch's POST body
 * is encrypted before the clock starts (fresh requestIds; `prepared` batches per channel, enough
 * for more than the target rate, and encrypted on the clock only if a channel runs out), and every
 * answer is kept as received and decrypted and checked after the clock stops: a message counts
 * only if its decrypted answer has status 200 or 201 and the requestId of its request.
 */
interface PhaseResult {
  messages: number;
  keys: number;
  seconds: number;
  cpuSeconds?: number;
  /** CPU time of this load process during the phase (user + system). */
  loadCpuSeconds: number;
  /** The codec floor (saturated retrievals only): before and after this phase's clock, their median, and the slowest and fastest round. */
  floor?: { before: number; after: number; median: number; slowest: number; fastest: number };
  latencies: number[];
  failures: number;
  encryptedOnTheClock: number;
  /** Paced: the messages of the batches that fell due within the phase (the offered load). */
  offered: number;
  /** This process's own event-loop delay during the phase, p99 in ms: latency the load adds to what it measures. */
  loadLoopDelayP99Ms: number;
  /** When the phase's clock ran (ms since the epoch), to find its requests in the appliance's log. */
  window: readonly [number, number];
}

/** The server a phase drives: the appliance, or the ceiling (codec-ceiling.ts) with channels of its own. */
interface Target {
  readonly url: string;
  readonly channels: readonly Channel[];
  /** Its process, whose CPU time (descendants included) the phase measures. */
  readonly pid: string | undefined;
  /** Whether the codec floor is measured just before and after the phase's clock. */
  readonly measureFloor: boolean;
  /** Saturated: the most retrievals per second it may serve, for which batches are encrypted before the clock (+10%). */
  readonly saturatedAtMost: number;
}

// The load's event-loop delay is sampled by a timer of this period; the histogram holds whole
// periods, so the period is taken off to leave the delay.
const LOOP_DELAY_RESOLUTION_MS = 5;

async function phase(kind: 'retrieve' | 'create', ratePerSecond?: number, target: Target = { url: url!, channels, pid: appliancePidArg, measureFloor: kind === 'retrieve' && ratePerSecond === undefined, saturatedAtMost: 25_000 }): Promise<PhaseResult> {
  const { channels } = target;
  for (const channel of channels) {
    channel.connection.destroy();
    channel.connection = newConnection();
  }
  const messagesOf = (channel: Channel) => (kind === 'retrieve' ? channel.keys.map((uri) => ({ method: 'retrieve', uri })) : [{ method: 'create', uri: 'kms://kms.realm.test/keys', count: batch }]);
  // Batches per channel: the paced rate exactly, or up to the target's most when saturated (+10%).
  const perSecond = kind === 'create' ? 1000 : (ratePerSecond ?? target.saturatedAtMost) / batch;
  const perChannel = (perSecond * seconds) / channels.length;
  // Paced, a channel's count of batches is Poisson: its mean plus five standard deviations.
  const prepared = Math.ceil(ratePerSecond === undefined ? perChannel * 1.1 : perChannel + 5 * Math.sqrt(perChannel)) + 1;
  const queues = new Map(channels.map((channel) => [channel, Array.from({ length: prepared }, () => batchBody(channel, messagesOf(channel)))]));
  process.stderr.write(`${kind} phase: ${prepared} batches prepared per channel\n`);
  // Warm-up, not measured: every channel's connection is opened (TLS handshake) and used once.
  const warm = performance.now();
  const pongs = await Promise.all(channels.map((channel) => send(channel, [{ method: 'update', uri: 'kms://kms.realm.test/ping' }], target.url)));
  if (pongs.some(([pong]) => pong?.status !== 200)) throw new Error(`warm-up ping refused: ${JSON.stringify(pongs.find(([pong]) => pong?.status !== 200))}`);
  if (process.env.REALM_TEST_BENCH_TRACE) process.stderr.write(`warmup ${(performance.now() - warm).toFixed(0)} ms\n`);
  const floorBefore = target.measureFloor ? codecFloorRounds() : undefined;
  const received: { channel: Channel; request: Buffer; status: number; chunks: Buffer[] }[] = [];
  const latencies: number[] = [];
  let encryptedOnTheClock = 0;
  let offered = 0;
  const end = performance.now() + seconds * 1000;
  const cpuAtStart = serverCpuSeconds(target.pid);
  const loadCpuAtStart = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  const started = performance.now();
  const startedAt = Date.now();
  const interval = ratePerSecond === undefined ? 0 : (channels.length * batch * 1000) / ratePerSecond;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  // Poisson arrivals: each channel's batches are due at exponentially distributed intervals, as
  // from independent clients, so bursts come and go at random instead of repeating at the same
  // phase every interval (fixed random phases cluster, and the same cluster would come back each time).
  const exponential = (mean: number) => (mean === 0 ? 0 : -Math.log(1 - Math.random()) * mean);
  await Promise.all(
    channels.map(async (channel) => {
      const queue = queues.get(channel)!;
      let next = performance.now() + exponential(interval);
      while (performance.now() < end) {
        if (interval > 0) {
          if (next >= end) break;
          await sleep(next - performance.now());
        }
        let request = queue.pop();
        if (request === undefined) {
          request = batchBody(channel, messagesOf(channel));
          encryptedOnTheClock += 1;
        }
        // Paced: latency counts from the moment the batch was due, not from when it could be sent
        // (a channel whose previous batch is still in flight sends late), so a slow answer is not
        // hidden by the batches it held back (coordinated omission).
        const t0 = interval > 0 ? Math.min(next, performance.now()) : performance.now();
        offered += batch;
        next += exponential(interval);
        const answer = await exchangeChunks('/kms/messages', request, channel.connection, target.url);
        latencies.push(performance.now() - t0);
        received.push({ channel, request, ...answer });
        if (process.env.REALM_TEST_BENCH_TRACE) process.stderr.write(`${kind} ${channel.uri.slice(-8)} ${(t0 - started).toFixed(0)} ${(performance.now() - t0).toFixed(1)}\n`);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const endedAt = Date.now();
  const cpuAtEnd = serverCpuSeconds(target.pid);
  const loadCpu = process.cpuUsage(loadCpuAtStart);
  loopDelay.disable();
  // Every answer is in: the appliance is idle again while the floor is measured once more.
  const floorAfter = floorBefore && codecFloorRounds();
  const floor = floorBefore && floorAfter && floorOf(floorBefore, floorAfter);
  let messages = 0;
  let keys = 0;
  let failures = 0;
  for (const { channel, request, status, chunks } of received) {
    const body = Buffer.concat(chunks);
    const requestIds = (JSON.parse(request.toString('utf8')) as { kmsMessages: string[] }).kmsMessages.map((m) => (JSON.parse(decryptDirA256Gcm(channel.key, m).plaintext.toString('utf8')) as { requestId: string }).requestId);
    const answers = answersOf(channel, status, body);
    answers.forEach((a, i) => {
      if ((a.status === 200 || a.status === 201) && a.requestId === requestIds[i]) {
        messages += 1;
        keys += kind === 'retrieve' ? 1 : (a.keys as unknown[]).length;
      } else failures += 1;
    });
    if (answers.length !== requestIds.length) failures += Math.abs(requestIds.length - answers.length);
  }
  return { messages, keys, seconds: elapsed, loadCpuSeconds: (loadCpu.user + loadCpu.system) / 1e6, ...(floor !== undefined && { floor }), ...(cpuAtStart !== undefined && cpuAtEnd !== undefined && { cpuSeconds: cpuAtEnd - cpuAtStart }), latencies, failures, encryptedOnTheClock, offered, loadLoopDelayP99Ms: +Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS).toFixed(1), window: [startedAt, endedAt] };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/**
 * The saturated phase again, against the ceiling (codec-ceiling.ts): the same batches of the same
 * sizes, on as many worker processes with the appliance's TLS certificate, each channel with its
 * own connection and a key of its own, while the appliance is idle. undefined without the ceiling's
 * arguments (TLS key file, workers).
 */
async function ceilingPhase(): Promise<PhaseResult | undefined> {
  if (tlsKeyFile === undefined || workersArg === undefined) return undefined;
  const ceilingChannels: Channel[] = channels.map((channel) => ({ ...channel, uri: `kms://kms.realm.test/ecdhe/${randomUUID()}`, key: randomBytes(32), connection: newConnection() }));
  const dir = mkdtempSync(join(tmpdir(), 'realm-bench-ceiling-'));
  const channelsFile = join(dir, 'channels.json');
  writeFileSync(channelsFile, JSON.stringify(Object.fromEntries(ceilingChannels.map((c) => [c.uri, c.key.toString('base64url')]))), { mode: 0o600 });
  const nodeArgs = JSON.parse(process.env.REALM_BENCH_CEILING_NODE_ARGS ?? '[]') as string[];
  const script = fileURLToPath(new URL('./codec-ceiling.js', import.meta.url));
  // The appliance's self-signed development certificate is also this process's TLS CA file.
  const server = spawn(process.execPath, [...nodeArgs, script, workersArg, tlsCaFile!, tlsKeyFile, channelsFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(server, 'exit');
  try {
    const [first] = (await Promise.race([once(createInterface({ input: server.stdout! }), 'line'), exited.then(() => [undefined])])) as (string | undefined)[];
    if (first === undefined) throw new Error('the ceiling server exited before listening');
    const { port } = JSON.parse(first) as { port: number };
    return await phase('retrieve', undefined, { url: `https://127.0.0.1:${port}`, channels: ceilingChannels, pid: String(server.pid), measureFloor: false, saturatedAtMost: 45_000 });
  } finally {
    server.kill('SIGTERM');
    await exited;
    for (const channel of ceilingChannels) channel.connection.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

// REALM_TEST_BENCH_PHASES (e.g. "retrieve") limits the run to some phases, for profiling.
const phases = (process.env.REALM_TEST_BENCH_PHASES ?? 'retrieve,ceiling,paced,create').split(',');
const none: PhaseResult = { messages: 0, keys: 0, seconds: 1, loadCpuSeconds: 0, latencies: [], failures: 0, encryptedOnTheClock: 0, offered: 0, loadLoopDelayP99Ms: 0, window: [0, 0] };
const retrieve = phases.includes('retrieve') ? await phase('retrieve') : none;
const ceiling = phases.includes('ceiling') ? await ceilingPhase() : undefined;
const paced = phases.includes('paced') ? await phase('retrieve', pacedRate) : none;
const create = phases.includes('create') ? await phase('create') : none;
console.log(
  JSON.stringify({
    channels: channels.length,
    batch,
    retrievalsPerSecond: Math.round(retrieve.keys / retrieve.seconds),
    floorCodecOpsPerSecond: retrieve.floor?.median ?? median(codecFloorRounds()),
    // The spread of the floor's rounds shows how steady the machine was: on a shared VM a core's
    // speed was seen to move by a factor of 1.8 from a few seconds to the next, with nothing else running.
    ...(retrieve.floor && { floorBeforePerSecond: retrieve.floor.before, floorAfterPerSecond: retrieve.floor.after, floorSlowestRoundPerSecond: retrieve.floor.slowest, floorFastestRoundPerSecond: retrieve.floor.fastest }),
    // Appliance CPU time (every process) per retrieval in the saturated phase, in microseconds.
    ...(retrieve.cpuSeconds !== undefined && retrieve.keys > 0 && { saturatedCpuMicrosPerRetrieval: Math.round((retrieve.cpuSeconds / retrieve.keys) * 1e6) }),
    // The load process's own CPU time per retrieval: it shares the machine's cores with the appliance.
    ...(retrieve.keys > 0 && { saturatedLoadCpuMicrosPerRetrieval: Math.round((retrieve.loadCpuSeconds / retrieve.keys) * 1e6) }),
    // The ceiling: HTTPS and the codec alone, run just after the saturated phase (codec-ceiling.ts).
    ...(ceiling !== undefined && {
      ceilingRetrievalsPerSecond: Math.round(ceiling.keys / ceiling.seconds),
      ...(ceiling.cpuSeconds !== undefined && ceiling.keys > 0 && { ceilingCpuMicrosPerRetrieval: Math.round((ceiling.cpuSeconds / ceiling.keys) * 1e6) }),
    }),
    saturatedBatchP50Ms: +percentile(retrieve.latencies, 50).toFixed(1),
    saturatedBatchP99Ms: +percentile(retrieve.latencies, 99).toFixed(1),
    pacedOfferedPerSecond: Math.round(paced.offered / seconds),
    pacedRetrievalsPerSecond: Math.round(paced.keys / paced.seconds),
    pacedBatchP50Ms: +percentile(paced.latencies, 50).toFixed(1),
    pacedBatchP99Ms: +percentile(paced.latencies, 99).toFixed(1),
    pacedLoadLoopDelayP99Ms: paced.loadLoopDelayP99Ms,
    // The same CPU figures for the paced phase: at a fixed rate, the appliance's share of the two
    // cores (and so the queueing behind its p99) moves with what a retrieval costs on the cores that
    // run it at that moment, which on a shared VM moves by up to a factor of 1.8 within seconds.
    ...(paced.cpuSeconds !== undefined && paced.keys > 0 && { pacedCpuMicrosPerRetrieval: Math.round((paced.cpuSeconds / paced.keys) * 1e6), pacedApplianceCores: +(paced.cpuSeconds / paced.seconds).toFixed(2) }),
    pacedWindow: paced.window,
    keyCreationsPerSecond: Math.round(create.keys / create.seconds),
    createMessageP50Ms: +percentile(create.latencies, 50).toFixed(1),
    createMessageP99Ms: +percentile(create.latencies, 99).toFixed(1),
    failures: retrieve.failures + paced.failures + create.failures + (ceiling?.failures ?? 0),
    batchesEncryptedOnTheClock: retrieve.encryptedOnTheClock + paced.encryptedOnTheClock + create.encryptedOnTheClock + (ceiling?.encryptedOnTheClock ?? 0),
  }),
);
setupAgent.destroy();
for (const channel of channels) channel.connection.destroy();
