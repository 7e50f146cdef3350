#!/usr/bin/env node
import { join } from 'node:path';
import { ConfigError, configFromEnv } from './config.js';
import { startCoreSim } from './server.js';

/** The hosted-core simulator as a process: CORE_SIM_* settings, one JSON line once listening, clean exit on SIGTERM/SIGINT. */

async function main(): Promise<void> {
  let options;
  try {
    options = configFromEnv(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`core-sim: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const sim = await startCoreSim(options);
  process.stdout.write(
    `${JSON.stringify({
      time: new Date().toISOString(),
      level: 'info',
      service: 'core-sim',
      msg: 'listening',
      url: sim.url,
      port: sim.port,
      kmsCluster: sim.kmsCluster,
      linkUrl: sim.linkUrl,
      dataDir: options.dataDir,
      ...(!options.tls && { caFile: join(options.dataDir, 'tls', 'core-sim-cert.pem') }),
      applianceLinks: options.applianceCaPem ? 'enabled' : 'refused (no CORE_SIM_APPLIANCE_CA_FILE)',
      controlApi: options.controlToken ? 'on' : 'off',
    })}\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    sim.stop().then(
      () => {
        process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', service: 'core-sim', msg: 'stopped', signal })}\n`);
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`core-sim: stop failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`core-sim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
