import 'reflect-metadata';
import cluster from 'node:cluster';
import { type RealmConfig, loadConfig } from '@realm/config';
import { describeError } from '@realm/errors';
import { createHttpsApp, createLogger, loadTlsMaterial, type Logger, serveJsonPostDirectly } from '@realm/http';
import { kmsMessagesRoute } from '@realm/kms';
import { AppModule } from './app.module.js';
import { openRealmRuntime, type RealmRuntime } from './realm-runtime.js';
import { superviseWorkers } from './supervisor.js';

/**
 * The appliance's entry point. Configuration, database, vault and TLS are opened before Nest, so
 * any of them failing stops the start with one line on stderr naming the cause and the setting,
 * and a non-zero exit.
 */
async function main(): Promise<void> {
  let config: RealmConfig;
  try {
    config = loadConfig();
  } catch (error) {
    return stop(error, 2);
  }
  const log = createLogger(config, { name: 'realm' });
  const worker = config.http.workers > 1 && cluster.isWorker;
  if (config.http.workers > 1 && cluster.isPrimary) {
    try {
      return await superviseWorkers(config, log);
    } catch (error) {
      return stop(error, 1, log);
    }
  }
  let runtime: RealmRuntime | undefined;
  try {
    // Workers find everything prepared by their supervisor.
    runtime = await openRealmRuntime(config, log, { component: 'appliance', initialize: config.env === 'development' && !worker });
    const tls = await loadTlsMaterial(config, log);
    const app = await createHttpsApp(AppModule.forRoot(runtime), config, log, tls);
    serveJsonPostDirectly(app, kmsMessagesRoute(runtime.kms.service));
    await app.listen(config.http.port, config.http.host);
    // The outbound link to the core (coreLink.url): relayed batches arrive only once we can serve them.
    const coreLink = runtime.coreLink;
    coreLink?.start();
    // SIGTERM (systemd, Docker) and SIGINT (Ctrl-C): stop accepting requests, run every shutdown
    // hook (the audit log's final checkpoint, the HSM logout, the database close), exit 0.
    let stopping = false;
    const stopOn = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      // The link drains first (its batches in flight are answered), then Nest and the runtime close.
      (coreLink?.close() ?? Promise.resolve()).then(() => app.close()).then(
        () => log.flush(() => process.exit(0)),
        (error: unknown) => {
          log.error({ err: error }, 'stop failed');
          log.flush(() => process.exit(1));
        },
      );
    };
    process.once('SIGTERM', stopOn);
    process.once('SIGINT', stopOn);
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    log.info({ url: `https://${host}:${port}`, port, ...(worker && { worker: cluster.worker?.id }), env: config.env, vault: config.vault.backend, database: config.database.driver, tlsFingerprintSha256: tls.fingerprintSha256, selfSigned: tls.selfSigned }, worker ? 'worker listening' : 'security realm listening');
  } catch (error) {
    await runtime?.close().catch(() => undefined);
    return stop(error, 1, log);
  }
}

function stop(error: unknown, code: number, log?: Logger): void {
  log?.error({ err: error }, 'start failed');
  process.stderr.write(`realm: cannot start: ${describeError(error)}\n`);
  process.exitCode = code;
  log?.flush();
}

await main();
