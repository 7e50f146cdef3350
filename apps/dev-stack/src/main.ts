#!/usr/bin/env node
import { relative, resolve } from 'node:path';
import { DEMO_USERS } from './dev-idp.js';
import { startDevStack } from './stack.js';

/**
 * `npm start`: the development stack on the embedded defaults, one command, Ctrl-C stops it.
 * Data: ./data (appliance), ./data/core-sim, ./data/dev-idp; a second start reuses them. Ports:
 * REALM_HTTP_PORT (8443), CORE_SIM_PORT (8444), DEV_IDP_PORT (8445). Any other REALM_* variable
 * reaches the appliance. Production runs apps/realm/dist/src/main.js alone, against the
 * enterprise IdP and the real core.
 */

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]{1,5}$/.test(raw) || Number(raw) > 65535) {
    process.stderr.write(`${name}: must be a port number from 0 to 65535, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return Number(raw);
}

async function main(): Promise<void> {
  const dataDir = resolve(process.env.REALM_DATA_DIR || './data');
  const shown = (path: string) => relative(process.cwd(), path) || '.';
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`starting the development stack in ${shown(dataDir)} (not for production)`);
  const stack = await startDevStack({
    dataDir,
    appliancePort: port('REALM_HTTP_PORT', 8443),
    corePort: port('CORE_SIM_PORT', 8444),
    idpPort: port('DEV_IDP_PORT', 8445),
    log: (line) => say(`  ${line}`),
  });

  const users = DEMO_USERS.map((u) => `${u.userName} (${u.role})`).join(', ');
  say('');
  say('security realm development stack is up');
  say(`  appliance      ${stack.appliance.url}/health/ready   CA: ${shown(stack.appliance.tlsCaFile)}`);
  say(`  sign in (SSO)  ${stack.appliance.url}/saml/login?returnTo=%2Faccount`);
  say(`  core (sim)     ${stack.core.url}/health   CA: ${shown(stack.core.tlsCaFile)}`);
  say(`  dev IdP        ${stack.idp.url}/   CA: ${shown(stack.idp.tlsCaFile)}`);
  say(`  demo logins    ${users}: the user name alone at the dev IdP`);
  say(`  OAuth client   ${stack.oauthClient.clientId} (public, PKCE S256), redirect URI ${stack.oauthClient.redirectUri}`);
  say(`  KMS            kms://${stack.kmsDomain}, ${stack.linked ? 'reached through the core (appliance link up)' : 'reached at the appliance directly (no link to the core)'}; roots: ${shown(stack.appliance.kmsRootsFile)}`);
  say(`  logs           ${shown(resolve(dataDir, 'logs'))}/`);
  say('Ctrl-C stops everything; `npm run demo -- --use-running` plays the demo scenario on this stack.');

  let stopping = false;
  const stop = async (why: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${why})`);
    const results = await stack.stop();
    const failed = results.filter((r) => r.code !== 0);
    for (const r of results) say(`  ${r.name} exited with ${r.code}`);
    process.exit(failed.length > 0 ? 1 : exitCode);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  const exited = await stack.unexpectedExit;
  if (!stopping) {
    process.stderr.write(`${exited.name} exited on its own with ${exited.code}: stopping the rest (see ${shown(resolve(dataDir, 'logs'))}/)\n`);
    await stop(`${exited.name} exited`, 1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
