/**
 * Relay benchmark (issue 5): KMS key retrievals per second through the hosted-core simulator,
 * against the direct rate measured in the same run. The production build of the appliance (one
 * process per core, http.workers, as the KMS benchmark runs it; each worker keeps its own link)
 * dials out to the core simulator process over mutual TLS; a separate load process drives N
 * channels (one user each) in a closed loop of batches of 50 retrievals, straight to the appliance's
 * POST /kms/messages and through the core (POST /kms/messages at the core, answers on the events
 * WebSocket, relayed over the link), with the same loop and the same codec; after a warm-up of
 * both, the two take turns (two rounds of half the time each), so neither gains by going first.
 *
 * No target: the figure is the ratio relayed / direct. The run fails only if a request fails.
 * SQLite (the embedded default). Last line: one JSON object.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { provisionBenchUsers } from './bench-users.js';
import { makeTempDir, onLines, realmctl, repoRoot, runNode, startAppliance, testDatabases } from '@realm/testing';

const CHANNELS = Number(process.env.REALM_TEST_BENCH_RELAY_CHANNELS ?? 20);
const BATCH = 50;
const WORKERS = Number(process.env.REALM_TEST_BENCH_WORKERS ?? availableParallelism());
const SECONDS = Number(process.env.REALM_TEST_BENCH_SECONDS ?? 10);

/** The core simulator as its own process; resolves with its URL and certificate file once it listens. */
function startCore(env: Record<string, string>): Promise<{ url: string; linkUrl: string; caFile: string; stop(): Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'apps/core-sim/dist/src/main.js')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((done) => child.on('exit', done));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    onLines(child.stdout, (line) => {
      const entry = JSON.parse(line) as Record<string, string>;
      if (entry.msg === 'listening') resolve({ url: entry.url!, linkUrl: entry.linkUrl!, caFile: entry.caFile!, stop: () => (child.kill('SIGTERM'), exited) });
    });
    void exited.then((code) => reject(new Error(`core-sim exited with ${String(code)}: ${stderr}`)));
  });
}

/** GET /health at the core until every worker's link is up. */
async function linksUp(core: { url: string; caFile: string }, count: number): Promise<void> {
  const ca = readFileSync(core.caFile);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const links = await new Promise<number>((resolve) => {
      request(`${core.url}/health`, { ca }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(Number((JSON.parse(text) as { applianceLinks?: unknown }).applianceLinks ?? 0)));
      })
        .on('error', () => resolve(0))
        .end();
    });
    if (links >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${links} of ${count} appliance links came up at the core`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface PhaseResult {
  retrievalsPerSecond: number;
  batchP50Ms: number;
  batchP99Ms: number;
  failures: number;
}

const database = testDatabases().find((d) => d.name === 'sqlite')!;
const created = await database.create();
const env: Record<string, string> = { ...created.env, REALM_LOG_LEVEL: 'warn' };
let result: { direct: PhaseResult; relayed: PhaseResult };
const ctl = async (args: string[]) => {
  const run = await realmctl(args, env);
  if (run.code !== 0) throw new Error(`realmctl ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
};
await ctl(['init']);
const kmsCa = join(makeTempDir('realm-relay-bench-ca-'), 'ca.pem');
writeFileSync(kmsCa, await ctl(['ca', 'certificate']));
const core = await startCore({ CORE_SIM_DATA_DIR: makeTempDir('realm-relay-bench-core-'), CORE_SIM_APPLIANCE_CA_FILE: kmsCa, CORE_SIM_LOG_LEVEL: 'warn' });
try {
  const app = await startAppliance({ ...env, REALM_LOG_LEVEL: 'info', REALM_HTTP_WORKERS: String(WORKERS), REALM_CORE_LINK_URL: core.linkUrl, REALM_CORE_LINK_CA_FILE: core.caFile, REALM_CORE_LINK_NODE_ID: 'bench' });
  try {
    await linksUp(core, WORKERS);
    const tokensFile = await provisionBenchUsers(env, CHANNELS, 'relay-bench');
    const load = await runNode(join(repoRoot, 'bench/dist/src/relay-load.js'), [app.url, join(env.REALM_DATA_DIR!, 'tls', 'dev-cert.pem'), kmsCa, core.url, core.caFile, tokensFile, String(CHANNELS), String(BATCH), String(SECONDS)], {});
    if (load.code !== 0) throw new Error(`load process failed: ${load.stderr}`);
    result = JSON.parse(load.stdout.trim().split('\n').pop()!) as typeof result;
  } finally {
    await app.stop();
  }
} finally {
  await core.stop();
  await created.drop();
}

const { direct, relayed } = result;
const ratio = +(relayed.retrievalsPerSecond / direct.retrievalsPerSecond).toFixed(3);
console.log(`direct to the appliance: ${direct.retrievalsPerSecond} retrievals/s (batch p50 ${direct.batchP50Ms} ms, p99 ${direct.batchP99Ms} ms); ${direct.failures} failures`);
console.log(`relayed through the core: ${relayed.retrievalsPerSecond} retrievals/s (batch p50 ${relayed.batchP50Ms} ms, p99 ${relayed.batchP99Ms} ms); ${relayed.failures} failures`);
console.log(`relayed / direct: ${(ratio * 100).toFixed(1)}%`);
const pass = direct.failures === 0 && relayed.failures === 0 && direct.retrievalsPerSecond > 0 && relayed.retrievalsPerSecond > 0;
console.log(JSON.stringify({ benchmark: 'relay', database: database.name, channels: CHANNELS, batch: BATCH, workers: WORKERS, seconds: SECONDS, direct, relayed, relayedToDirect: ratio, target: 'none (the ratio is reported); no failures', pass }));
if (!pass) process.exitCode = 1;
