#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { httpsGet } from '@realm/testing';
import { startDevIdp } from './dev-idp.js';

/**
 * The development IdP as its own process (started by the dev stack, never in production):
 * DEV_IDP_DATA_DIR, DEV_IDP_PORT, and the appliance's SP metadata URL and TLS certificate
 * (DEV_IDP_SP_METADATA_URL, DEV_IDP_SP_CA_FILE), read at the first sign-in. One JSON line once
 * listening; SIGTERM and SIGINT stop it (exit 0). Its own process keeps the SAML schema validator's
 * console output out of the stack's terminal.
 */

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`dev-idp: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const dataDir = resolve(setting('DEV_IDP_DATA_DIR'));
  const rawPort = process.env.DEV_IDP_PORT ?? '0';
  if (!/^[0-9]{1,5}$/.test(rawPort) || Number(rawPort) > 65535) {
    process.stderr.write(`dev-idp: DEV_IDP_PORT must be a port number, got ${JSON.stringify(rawPort)}\n`);
    process.exit(2);
  }
  const spMetadataUrl = setting('DEV_IDP_SP_METADATA_URL');
  const spCaFile = setting('DEV_IDP_SP_CA_FILE');
  const idp = await startDevIdp({
    dataDir,
    port: Number(rawPort),
    serviceProviderMetadata: async () => {
      const answer = await httpsGet(spMetadataUrl, readFileSync(spCaFile));
      if (answer.status !== 200) throw new Error(`GET ${spMetadataUrl} answered ${answer.status}`);
      return answer.body;
    },
  });
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', service: 'dev-idp', msg: 'listening', url: idp.url, metadataFile: idp.metadataFile, tlsCertFile: idp.tlsCertFile })}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    idp.close().then(
      () => {
        process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', service: 'dev-idp', msg: 'stopped', signal })}\n`);
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`dev-idp: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
