import cluster, { type Worker } from 'node:cluster';
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
//   the KMS bench: scavenging time -15%, and paced p99 30–42 ms instead of 38–100 ms.
// An operator's own setting of either (in the flags or NODE_OPTIONS) wins.
const WORKER_V8_FLAGS: readonly { readonly flag: string; readonly setBy: readonly string[] }[] = [
  { flag: '--max-semi-space-size=64', setBy: ['--max-semi-space-size'] },
  { flag: '--no-allocation-site-pretenuring', setBy: ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring'] },
];

/** The V8 flags of a worker: the supervisor's, plus {@link WORKER_V8_FLAGS} the operator did not set. */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  const added = WORKER_V8_FLAGS.filter(({ setBy }) => !given.some((flag) => setBy.some((name) => flag === name || flag.startsWith(`${name}=`))));
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
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  for (let i = 0; i < config.http.workers; i++) start();
}
