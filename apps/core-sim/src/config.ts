import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LogLevel } from './logger.js';
import type { CoreSimOptions } from './server.js';

/**
 * The simulator's configuration from CORE_SIM_* environment variables. An unknown CORE_SIM_*
 * variable or a bad value stops the start with one line naming the variable.
 */

export const SETTINGS = {
  CORE_SIM_HOST: 'address to bind (default 127.0.0.1)',
  CORE_SIM_PORT: 'HTTPS port; 0 picks a free one (default 0)',
  CORE_SIM_LINK_PORT: 'port of the appliance link, where TLS requires a client certificate; 0 picks a free one (default 0)',
  CORE_SIM_DATA_DIR: 'directory of core-sim.db and the generated certificate (default ./data/core-sim)',
  CORE_SIM_TLS_CERT_FILE: 'PEM certificate chain of the core (default: self-signed, in <data dir>/tls)',
  CORE_SIM_TLS_KEY_FILE: 'PEM private key of CORE_SIM_TLS_CERT_FILE',
  CORE_SIM_APPLIANCE_CA_FILE: "PEM CA certificate(s) that sign the org's appliance client certificates (absent: every link is refused)",
  CORE_SIM_KMS_CLUSTER: "the org's KMS cluster (default kms://kms.realm.test)",
  CORE_SIM_CONTROL_TOKEN: 'enables the test-control API for this token (absent: off)',
  CORE_SIM_LOG_LEVEL: 'debug | info | warn | error | silent (default info)',
  CORE_SIM_KMS_TIMEOUT_MS: 'how long a relayed batch waits for the KMS (default 15000)',
  CORE_SIM_LINK_MAX_IN_FLIGHT: 'cap on kms.request frames unanswered per link (default 64)',
  CORE_SIM_HEARTBEAT_INTERVAL_MS: 'link ping interval (default 15000)',
  CORE_SIM_HEARTBEAT_TIMEOUT_MS: 'link pong deadline (default 10000)',
} as const;

export class ConfigError extends Error {}

export function configFromEnv(env: NodeJS.ProcessEnv): CoreSimOptions {
  for (const name of Object.keys(env)) {
    if (name.startsWith('CORE_SIM_') && !(name in SETTINGS)) throw new ConfigError(`${name}: unknown setting (known: ${Object.keys(SETTINGS).join(', ')})`);
  }
  const int = (name: keyof typeof SETTINGS, min: number, max: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new ConfigError(`${name}: must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  const file = (name: keyof typeof SETTINGS): string | undefined => {
    const path = env[name];
    if (!path) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`${name}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  };
  const certPem = file('CORE_SIM_TLS_CERT_FILE');
  const keyPem = file('CORE_SIM_TLS_KEY_FILE');
  if ((certPem === undefined) !== (keyPem === undefined)) throw new ConfigError('CORE_SIM_TLS_CERT_FILE and CORE_SIM_TLS_KEY_FILE: set both or neither');
  const logLevel = env.CORE_SIM_LOG_LEVEL ?? 'info';
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) throw new ConfigError(`CORE_SIM_LOG_LEVEL: must be debug, info, warn, error or silent`);
  const kmsCluster = env.CORE_SIM_KMS_CLUSTER ?? 'kms://kms.realm.test';
  if (!/^kms:\/\/[A-Za-z0-9.-]{1,253}$/.test(kmsCluster)) throw new ConfigError(`CORE_SIM_KMS_CLUSTER: must be kms://<domain>, got ${JSON.stringify(kmsCluster)}`);
  const applianceCaPem = file('CORE_SIM_APPLIANCE_CA_FILE');
  const limits = {
    ...(int('CORE_SIM_KMS_TIMEOUT_MS', 100, 600_000) !== undefined && { kmsTimeoutMs: int('CORE_SIM_KMS_TIMEOUT_MS', 100, 600_000)! }),
    ...(int('CORE_SIM_LINK_MAX_IN_FLIGHT', 1, 1024) !== undefined && { maxInFlightPerLink: int('CORE_SIM_LINK_MAX_IN_FLIGHT', 1, 1024)! }),
    ...(int('CORE_SIM_HEARTBEAT_INTERVAL_MS', 10, 600_000) !== undefined && { heartbeatIntervalMs: int('CORE_SIM_HEARTBEAT_INTERVAL_MS', 10, 600_000)! }),
    ...(int('CORE_SIM_HEARTBEAT_TIMEOUT_MS', 10, 600_000) !== undefined && { heartbeatTimeoutMs: int('CORE_SIM_HEARTBEAT_TIMEOUT_MS', 10, 600_000)! }),
  };
  return {
    dataDir: resolve(env.CORE_SIM_DATA_DIR || './data/core-sim'),
    host: env.CORE_SIM_HOST || '127.0.0.1',
    port: int('CORE_SIM_PORT', 0, 65535) ?? 0,
    linkPort: int('CORE_SIM_LINK_PORT', 0, 65535) ?? 0,
    ...(certPem !== undefined && keyPem !== undefined && { tls: { certPem, keyPem } }),
    ...(applianceCaPem !== undefined && { applianceCaPem }),
    kmsCluster,
    ...(env.CORE_SIM_CONTROL_TOKEN && { controlToken: env.CORE_SIM_CONTROL_TOKEN }),
    logLevel: logLevel as LogLevel,
    limits,
  };
}
