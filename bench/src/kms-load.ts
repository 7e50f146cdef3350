/**
 * The load process of the KMS benchmark (a separate process from the appliance): opens N channels,
 * each with its own user token, and drives the appliance with batches of up to 50 messages per
 * POST, all channels at once. Prints one JSON line with the measured figures.
 *
 * argv: <url> <tls-ca-file> <kms-ca-file> <tokens-file (one per line)> <channels> <batch> <seconds> <paced retrievals/s>
 */
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { decryptDirA256Gcm, deriveChannelKey, encryptDirA256Gcm, encryptRsaOaepJwe, generateEphemeralP256, importP256PublicJwk, verifyCompactJws } from '@realm/crypto';
import { validateStaticKey } from '@realm/kms-client';

const [url, tlsCaFile, kmsCaFile, tokensFile, channelsArg, batchArg, secondsArg, pacedArg] = process.argv.slice(2);
const tlsCa = readFileSync(tlsCaFile!);
const tokens = readFileSync(tokensFile!, 'utf8').trim().split('\n');
const channelCount = Number(channelsArg);
const batch = Number(batchArg);
const seconds = Number(secondsArg);
const pacedRate = Number(pacedArg);
// A new pool of keep-alive connections per phase: a connection left idle between phases may be
// closed by the server (keepAliveTimeout) just as the next phase reuses it.
let agent = new Agent({ keepAlive: true, maxSockets: channelCount, ca: tlsCa });

function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: path === '/kms/discovery' ? 'GET' : 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${res.statusCode} ${text.slice(0, 200)}`));
        else resolve(JSON.parse(text) as Record<string, unknown>);
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface Channel {
  uri: string;
  key: Buffer;
  token: string;
  keys: string[];
}

const discovery = await post('/kms/discovery', undefined);
const staticKey = validateStaticKey(discovery.rsaPublicKey, { trustedRoots: [readFileSync(kmsCaFile!, 'utf8')] });

const send = async (channel: Channel, bodies: Record<string, unknown>[]) => {
  const messages = bodies.map((fields) => encryptDirA256Gcm(channel.key, channel.uri, Buffer.from(JSON.stringify({ client: { clientId: 'bench', credential: { bearer: channel.token } }, requestId: randomUUID(), ...fields }))));
  const answer = await post('/kms/messages', { kmsMessages: messages });
  return (answer.kmsMessages as string[]).map((m) => JSON.parse(decryptDirA256Gcm(channel.key, m).plaintext.toString('utf8')) as Record<string, unknown>);
};

async function open(token: string): Promise<Channel> {
  const ephemeral = generateEphemeralP256();
  const body = { client: { clientId: 'bench', credential: { bearer: token } }, method: 'create', uri: 'kms://kms.realm.test/ecdhe', requestId: randomUUID(), jwk: ephemeral.publicJwk };
  const answer = await post('/kms/messages', { kmsMessages: [encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify(body)))] });
  const negotiated = JSON.parse(verifyCompactJws((answer.kmsMessages as string[])[0]!, staticKey.publicKey, { algorithms: ['PS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; key: { uri: string; jwk: unknown } };
  if (negotiated.status !== 201) throw new Error(`handshake refused: ${JSON.stringify(negotiated)}`);
  const channel: Channel = { uri: negotiated.key.uri, key: deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(negotiated.key.jwk)), token, keys: [] };
  // Each channel's user owns a conversation with bound keys to retrieve.
  const [created] = await send(channel, [{ method: 'create', uri: 'kms://kms.realm.test/keys', count: batch }]);
  channel.keys = (created!.keys as { uri: string }[]).map((k) => k.uri);
  await send(channel, [{ method: 'create', uri: 'kms://kms.realm.test/resources', keyUris: channel.keys }]);
  return channel;
}

const channels: Channel[] = [];
for (let i = 0; i < channelCount; i += 10) channels.push(...(await Promise.all(tokens.slice(i, i + 10).map(open))));

/**
 * Drives every channel at once. Closed loop (`ratePerSecond` undefined): each channel sends its next
 * batch as soon as the previous one is answered, which measures the saturated rate (and, by
 * Little's law, latencies of channels × batch / rate). Paced: each channel sends one batch every
 * channels × batch / ratePerSecond seconds from a random phase, which measures latency at that load.
 */
async function phase(kind: 'retrieve' | 'create', ratePerSecond?: number): Promise<{ messages: number; keys: number; seconds: number; latencies: number[]; failures: number }> {
  agent.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: channelCount, ca: tlsCa });
  // Warm-up, not measured: every channel's connection is opened (TLS handshake) and used once.
  const warm = performance.now();
  const pongs = await Promise.all(channels.map((channel) => send(channel, [{ method: 'update', uri: 'kms://kms.realm.test/ping' }])));
  if (pongs.some(([pong]) => pong?.status !== 200)) throw new Error(`warm-up ping refused: ${JSON.stringify(pongs.find(([pong]) => pong?.status !== 200))}`);
  if (process.env.REALM_TEST_BENCH_TRACE) process.stderr.write(`warmup ${(performance.now() - warm).toFixed(0)} ms\n`);
  const latencies: number[] = [];
  let messages = 0;
  let keys = 0;
  let failures = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  const interval = ratePerSecond === undefined ? 0 : (channels.length * batch * 1000) / ratePerSecond;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  await Promise.all(
    channels.map(async (channel) => {
      let next = performance.now() + (randomInt(1_000_000) / 1_000_000) * interval;
      while (performance.now() < end) {
        if (interval > 0) {
          await sleep(next - performance.now());
          next += interval;
        }
        const bodies = kind === 'retrieve' ? channel.keys.map((uri) => ({ method: 'retrieve', uri })) : [{ method: 'create', uri: 'kms://kms.realm.test/keys', count: batch }];
        const t0 = performance.now();
        const answers = await send(channel, bodies);
        latencies.push(performance.now() - t0);
        if (process.env.REALM_TEST_BENCH_TRACE) process.stderr.write(`${kind} ${channel.uri.slice(-8)} ${(t0 - started).toFixed(0)} ${(performance.now() - t0).toFixed(1)}\n`);
        for (const a of answers) {
          if (a.status === 200 || a.status === 201) {
            messages += 1;
            keys += kind === 'retrieve' ? 1 : (a.keys as unknown[]).length;
          } else failures += 1;
        }
      }
    }),
  );
  return { messages, keys, seconds: (performance.now() - started) / 1000, latencies, failures };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

// REALM_TEST_BENCH_PHASES (e.g. "retrieve") limits the run to some phases, for profiling.
const phases = (process.env.REALM_TEST_BENCH_PHASES ?? 'retrieve,paced,create').split(',');
const none = { messages: 0, keys: 0, seconds: 1, latencies: [], failures: 0 };
const retrieve = phases.includes('retrieve') ? await phase('retrieve') : none;
const paced = phases.includes('paced') ? await phase('retrieve', pacedRate) : none;
const create = phases.includes('create') ? await phase('create') : none;
console.log(
  JSON.stringify({
    channels: channels.length,
    batch,
    retrievalsPerSecond: Math.round(retrieve.keys / retrieve.seconds),
    saturatedBatchP50Ms: +percentile(retrieve.latencies, 50).toFixed(1),
    saturatedBatchP99Ms: +percentile(retrieve.latencies, 99).toFixed(1),
    pacedRetrievalsPerSecond: Math.round(paced.keys / paced.seconds),
    pacedBatchP50Ms: +percentile(paced.latencies, 50).toFixed(1),
    pacedBatchP99Ms: +percentile(paced.latencies, 99).toFixed(1),
    keyCreationsPerSecond: Math.round(create.keys / create.seconds),
    createMessageP50Ms: +percentile(create.latencies, 50).toFixed(1),
    createMessageP99Ms: +percentile(create.latencies, 99).toFixed(1),
    failures: retrieve.failures + paced.failures + create.failures,
  }),
);
agent.destroy();
