/**
 * The load process of the relay benchmark (a separate process from the appliance and the core):
 * the same closed loop of batched key retrievals straight to the appliance's POST /kms/messages,
 * and through the core simulator as a relayed client does it (POST /kms/messages to the core,
 * answers on the events WebSocket, with CoreKmsTransport), the two taking turns after a warm-up.
 * Each channel has its own user token and, through the core, its own core user and events socket.
 * Prints one JSON line.
 *
 * argv: <appliance url> <appliance tls-ca file> <kms-ca file> <core url> <core tls-ca file> <tokens file> <channels> <batch> <seconds>
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { decryptDirA256Gcm, deriveChannelKey, encryptDirA256Gcm, encryptRsaOaepJwe, generateEphemeralP256, importP256PublicJwk, verifyCompactJws } from '@realm/crypto';
import { CoreKmsTransport, validateStaticKey } from '@realm/kms-client';

const [applianceUrl, applianceCaFile, kmsCaFile, coreUrl, coreCaFile, tokensFile, channelsArg, batchArg, secondsArg] = process.argv.slice(2);
const applianceCa = readFileSync(applianceCaFile!);
const coreCa = readFileSync(coreCaFile!);
const tokens = readFileSync(tokensFile!, 'utf8').trim().split('\n');
const channelCount = Number(channelsArg);
const batch = Number(batchArg);
const seconds = Number(secondsArg);
const CLUSTER = 'kms://kms.realm.test';

function httpsJson(url: string, method: string, body: unknown, options: { ca: Buffer; agent?: Agent; headers?: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: options.ca, ...(options.agent && { agent: options.agent }), headers: { 'content-type': 'application/json', ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** How a channel's batches reach the KMS and its answers come back. */
interface Route {
  exchange(messages: string[]): Promise<string[]>;
  close(): void;
}

const applianceAgent = new Agent({ keepAlive: true, maxSockets: channelCount, ca: applianceCa });

/** Straight to the appliance: the answer is the HTTP response. */
function directRoute(): Route {
  return {
    async exchange(messages) {
      const answer = await httpsJson(`${applianceUrl}/kms/messages`, 'POST', { kmsMessages: messages }, { ca: applianceCa, agent: applianceAgent });
      if (answer.status !== 200) throw new Error(`the appliance answered ${answer.status}`);
      return answer.body.kmsMessages as string[];
    },
    close: () => undefined,
  };
}

/** Through the core: 202 for the POST, the answer on the user's events socket. One batch in flight per channel. */
async function relayedRoute(coreUserId: string): Promise<Route> {
  const signIn = await httpsJson(`${coreUrl}/users`, 'POST', { userId: coreUserId }, { ca: coreCa });
  if (signIn.status !== 201 && signIn.status !== 200) throw new Error(`the core refused POST /users: ${signIn.status}`);
  const coreToken = signIn.body.token as string;
  const transport = new CoreKmsTransport({ url: coreUrl!, ca: coreCa, coreToken: () => coreToken });
  let waiting: { resolve(messages: string[]): void; reject(error: Error): void } | undefined;
  const settle = () => {
    const w = waiting;
    waiting = undefined;
    return w;
  };
  transport.onResponses((messages) => settle()?.resolve(messages));
  transport.onFailure((failure) => settle()?.reject(new Error(`the core failed the batch: ${failure.status} ${failure.code}`)));
  await transport.open();
  return {
    exchange: (messages) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        transport.send(CLUSTER, messages).catch((error: Error) => settle()?.reject(error));
      }),
    close: () => transport.close(),
  };
}

interface Channel {
  readonly route: Route;
  readonly uri: string;
  readonly key: Buffer;
  readonly token: string;
  keys: string[];
}

const discovery = await httpsJson(`${applianceUrl}/kms/discovery`, 'GET', undefined, { ca: applianceCa, agent: applianceAgent });
const staticKey = validateStaticKey(discovery.body.rsaPublicKey, { trustedRoots: [readFileSync(kmsCaFile!, 'utf8')] });

/** Sends one batch on the channel and reads the answers; every answer must name a requestId of the batch. */
async function send(channel: Channel, bodies: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const requestIds: string[] = bodies.map(() => randomUUID());
  const messages = bodies.map((fields, i) => encryptDirA256Gcm(channel.key, channel.uri, Buffer.from(JSON.stringify({ client: { clientId: 'bench', credential: { bearer: channel.token } }, requestId: requestIds[i], ...fields }))));
  const answers = (await channel.route.exchange(messages)).map((m) => JSON.parse(decryptDirA256Gcm(channel.key, m).plaintext.toString('utf8')) as Record<string, unknown>);
  const asked = new Set(requestIds);
  if (answers.length !== bodies.length || !answers.every((a) => asked.delete(a.requestId as string))) throw new Error('the answers do not match the batch');
  return answers;
}

/** ECDHE handshake through `route`, then a conversation of `batch` bound keys to retrieve. */
async function open(route: Route, token: string): Promise<Channel> {
  const ephemeral = generateEphemeralP256();
  const body = { client: { clientId: 'bench', credential: { bearer: token } }, method: 'create', uri: `${CLUSTER}/ecdhe`, requestId: randomUUID(), jwk: ephemeral.publicJwk };
  const [signed] = await route.exchange([encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify(body)))]);
  const negotiated = JSON.parse(verifyCompactJws(signed!, staticKey.publicKey, { algorithms: ['PS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; key: { uri: string; jwk: unknown } };
  if (negotiated.status !== 201) throw new Error(`handshake refused: ${negotiated.status}`);
  const channel: Channel = { route, uri: negotiated.key.uri, key: deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(negotiated.key.jwk)), token, keys: [] };
  const [created] = await send(channel, [{ method: 'create', uri: `${CLUSTER}/keys`, count: batch }]);
  channel.keys = (created!.keys as { uri: string }[]).map((k) => k.uri);
  await send(channel, [{ method: 'create', uri: `${CLUSTER}/resources`, keyUris: channel.keys }]);
  return channel;
}

interface Tally {
  retrieved: number;
  failures: number;
  seconds: number;
  latencies: number[];
}

/** Every channel at once for `duration` seconds, each sending its next batch of retrievals when the last is answered. */
async function phase(channels: Channel[], duration: number, tally: Tally): Promise<void> {
  const started = performance.now();
  const end = started + duration * 1000;
  await Promise.all(
    channels.map(async (channel) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const answers = await send(
            channel,
            channel.keys.map((uri) => ({ method: 'retrieve', uri })),
          );
          tally.latencies.push(performance.now() - t0);
          for (const a of answers) {
            if (a.status === 200) tally.retrieved += 1;
            else tally.failures += 1;
          }
        } catch {
          tally.failures += batch;
        }
      }
    }),
  );
  tally.seconds += (performance.now() - started) / 1000;
}

const newTally = (): Tally => ({ retrieved: 0, failures: 0, seconds: 0, latencies: [] });

function summary(tally: Tally): { retrievalsPerSecond: number; batchP50Ms: number; batchP99Ms: number; failures: number } {
  const sorted = tally.latencies.sort((a, b) => a - b);
  const percentile = (p: number) => +(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0).toFixed(1);
  return { retrievalsPerSecond: Math.round(tally.retrieved / tally.seconds), batchP50Ms: percentile(50), batchP99Ms: percentile(99), failures: tally.failures };
}

const runId = randomUUID().slice(0, 8);
const direct: Channel[] = [];
const relayed: Channel[] = [];
for (let i = 0; i < channelCount; i += 10) {
  const slice = tokens.slice(i, Math.min(i + 10, channelCount));
  direct.push(...(await Promise.all(slice.map((token) => open(directRoute(), token)))));
  relayed.push(...(await Promise.all(slice.map(async (token, j) => open(await relayedRoute(`bench-${runId}-${i + j}`), token)))));
}
// Warm-up of both routes, not measured (connections, sockets, JIT, the appliance's caches); then
// the routes take turns, so that neither is favoured by going first or by drifts of the machine.
for (const channels of [direct, relayed]) await phase(channels, Math.min(3, seconds / 2), newTally());
const directTally = newTally();
const relayedTally = newTally();
for (let round = 0; round < 2; round++) {
  await phase(direct, seconds / 2, directTally);
  await phase(relayed, seconds / 2, relayedTally);
}
const directResult = summary(directTally);
const relayedResult = summary(relayedTally);
for (const channel of relayed) channel.route.close();
applianceAgent.destroy();
console.log(JSON.stringify({ channels: channelCount, batch, direct: directResult, relayed: relayedResult }));
