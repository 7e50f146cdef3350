import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { RealmConfig } from '@realm/config';
import { loadTlsMaterial, type Logger } from '@realm/http';
import { openRealmRuntime } from './realm-runtime.js';

// A worker that dies more often than this is not restarted again: the supervisor stops (fail
// closed) rather than loop on a fault such as a lost HSM or a full disk.
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
// How long workers get for their shutdown hooks (the audit checkpoint, the HSM logout) after SIGTERM.
const STOP_TIMEOUT_MS = 30_000;
// Workers allocate fast and briefly (each KMS message: a JWE, its JSON, its answer, its audit
// record), and V8's defaults suit neither half of that:
// - semi-spaces of 64 MiB instead of 16 let far more of it die young: the garbage collector's share
//   of a busy worker's time measured 12% with the default, 7.5% with this, for up to about 128 MiB
//   more memory per worker under load;
// - no allocation-site pretenuring: under a burst most requests are in flight at each scavenge, V8
//   then allocates those sites' objects straight in the old generation, and keeps doing so after
//   the burst, so every request's garbage waits for a mark-compact. Measured over four rounds of
//   the KMS bench: scavenging time -15%, and paced p99 30–42 ms instead of 38–100 ms;
// - single-threaded GC when there are as many workers as cores: V8's parallel and concurrent GC
//   threads then find no idle core, and take theirs from the other workers (a worker was seen
//   stalled for 23 ms with 9 ms of CPU while the other, collecting, used 41 ms of CPU in 20 ms).
//   Measured over twelve interleaved pairs of the KMS bench (2 workers, 2 cores): at 5,000
//   retrievals/s, 132 µs of CPU per retrieval against 143 (medians; lower in 10 pairs of 12) and
//   p99 under 50 ms in 9 runs of 12 against 4; saturated, no difference beyond the noise. With
//   spare cores the helpers have cores of their own and shorten the pauses, so fewer workers than
//   cores keep them.
// An operator's own setting of any of these (in the flags or NODE_OPTIONS) wins.
interface WorkerV8Flag {
  readonly flag: string;
  readonly setBy: readonly string[];
  /** Added only when this holds for the number of workers and of cores. */
  readonly when?: (workers: number, cores: number) => boolean;
}
const WORKER_V8_FLAGS: readonly WorkerV8Flag[] = [
  { flag: '--max-semi-space-size=64', setBy: ['--max-semi-space-size'] },
  { flag: '--no-allocation-site-pretenuring', setBy: ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring'] },
  { flag: '--single-threaded-gc', setBy: ['--single-threaded-gc', '--no-single-threaded-gc'], when: (workers, cores) => workers >= cores },
];

/**
 * The V8 flags of each of `workers` worker processes on a machine of `cores` cores: the
 * supervisor's, plus the {@link WORKER_V8_FLAGS} that apply and the operator did not set.
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined, workers: number, cores: number = availableParallelism()): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  const added = WORKER_V8_FLAGS.filter(
    ({ setBy, when }) => (when === undefined || when(workers, cores)) && !given.some((flag) => setBy.some((name) => flag === name || flag.startsWith(`${name}=`))),
  );
  return [...execArgv, ...added.map(({ flag }) => flag)];
}

/**
 * With http.workers > 1 the appliance runs as a supervisor and that many worker processes sharing
 * the HTTPS port (node:cluster). Appliance nodes are stateless apart from caches (channels, replay
 * caches, sessions and SAML request ids live in the database), so the workers are simply several
 * nodes on one machine, and any of them serves any request.
 *
 * The supervisor prepares what must happen once (migrations; in development the master key, the
 * keys and certificates, the self-signed TLS certificate), then starts the workers, logs
 * `security realm listening` when every one of them listens, restarts a worker that dies, and on
 * SIGTERM/SIGINT stops them all and exits 0 once they have run their shutdown hooks.
 */
export async function superviseWorkers(config: RealmConfig, log: Logger): Promise<void> {
  const runtime = await openRealmRuntime(config, log, { component: 'supervisor', initialize: config.env === 'development' });
  await runtime.close();
  const tls = await loadTlsMaterial(config, log);

  let stopping = false;
  let exitCode = 0;
  const restarts: number[] = [];
  const listening = new Set<number>();
  let announced = false;
  const start = (): Worker => cluster.fork();

  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    if (announced || listening.size < config.http.workers) return;
    announced = true;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    log.info(
      { url: `https://${host}:${address.port}`, port: address.port, workers: config.http.workers, env: config.env, vault: config.vault.backend, database: config.database.driver, tlsFingerprintSha256: tls.fingerprintSha256, selfSigned: tls.selfSigned },
      'security realm listening',
    );
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) log.flush(() => process.exit(exitCode));
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS || !announced) {
      // A worker that cannot start (or keeps dying) would fail the same way again.
      log.error({ pid: worker.process.pid, code, signal, restarts: restarts.length }, 'appliance worker failed: stopping every worker');
      stopAll(1);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'appliance worker exited: starting another');
    start();
  });

  function stopAll(code: number): void {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) log.flush(() => process.exit(exitCode));
    for (const worker of workers) worker.process.kill('SIGTERM');
    // A worker that does not finish its shutdown hooks in time is killed: the supervisor must end.
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (worker && !worker.isDead()) {
          log.error({ pid: worker.process.pid }, 'appliance worker did not stop in time: killed');
          worker.process.kill('SIGKILL');
        }
      }
      exitCode = 1;
    }, STOP_TIMEOUT_MS).unref();
  }
  process.once('SIGTERM', () => {
    log.info({ signal: 'SIGTERM' }, 'stopping');
    stopAll(0);
  });
  process.once('SIGINT', () => {
    log.info({ signal: 'SIGINT' }, 'stopping');
    stopAll(0);
  });
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, config.http.workers) });
  for (let i = 0; i < config.http.workers; i++) start();
}
