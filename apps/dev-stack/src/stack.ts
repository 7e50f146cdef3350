import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { HeadlessBrowser, RealmClient, type RealmClientOptions } from '@realm/realm-client';
import { APPLIANCE_MAIN, httpsGet, onLines, REALMCTL_MAIN, repoRoot, runNode } from '@realm/testing';

/**
 * The development stack of `npm start` and `npm run demo`: the appliance (its production entry,
 * apps/realm/dist/src/main.js, on the embedded defaults), the core simulator as its own process,
 * and the development IdP, wired together. The appliance dials out to the core (coreLink.*) with a
 * client certificate of its service CA, which the core trusts; the core and the IdP have
 * self-signed certificates kept in their data directories.
 */

export const CORE_SIM_MAIN = join(repoRoot, 'apps/core-sim/dist/src/main.js');
export const DEV_IDP_MAIN = join(repoRoot, 'apps/dev-stack/dist/src/dev-idp-main.js');
/** The demo OAuth client: public (PKCE only), a native app's private-use redirect (RFC 8252 §7.1). */
export const DEMO_CLIENT_NAME = 'realm-demo';
export const DEMO_REDIRECT_URI = 'test.realm.demo:/oauth/callback';

export interface DevStackOptions {
  /** The appliance's data directory; the core's is <dataDir>/core-sim, the IdP's <dataDir>/dev-idp, logs in <dataDir>/logs. */
  readonly dataDir: string;
  /** 0 picks free ports. */
  readonly appliancePort?: number;
  readonly corePort?: number;
  readonly idpPort?: number;
  /** More appliance settings (REALM_*), e.g. REALM_DATABASE_URL for PostgreSQL. */
  readonly applianceEnv?: Readonly<Record<string, string>>;
  /** Appliance processes on one database, each with its own port and link (PostgreSQL only). */
  readonly applianceNodes?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** How long to wait for the appliance's links to show at the core. */
  readonly linkTimeoutMs?: number;
}

export interface DevStackDescription {
  readonly appliance: { readonly url: string; readonly nodeUrls: readonly string[]; readonly tlsCaFile: string; readonly kmsRootsFile: string };
  readonly core: { readonly url: string; readonly tlsCaFile: string; readonly linkUrl: string };
  readonly idp: { readonly url: string; readonly tlsCaFile: string };
  readonly kmsDomain: string;
  readonly oauthClient: { readonly clientId: string; readonly redirectUri: string };
  /** Whether appliance links showed at the core (the KMS is reachable through the core). */
  readonly linked: boolean;
  readonly logs: { readonly appliance: readonly string[]; readonly core: string };
  readonly dataDir: string;
}

export interface DevStack extends DevStackDescription {
  /** Resolves with the name and exit code of the first child that exits on its own. */
  readonly unexpectedExit: Promise<{ name: string; code: number | string | null }>;
  /** SIGTERM to every child (the appliance first, the IdP last); resolves with each child's exit. */
  stop(): Promise<{ name: string; code: number | string | null }[]>;
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | string | null>;
  readonly log: WriteStream;
}

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const say = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  const coreDir = join(dataDir, 'core-sim');
  const idpDir = join(dataDir, 'dev-idp');
  const logDir = join(dataDir, 'logs');
  for (const dir of [dataDir, coreDir, idpDir, logDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const nodes = options.applianceNodes ?? 1;
  const kmsDomain = options.applianceEnv?.REALM_KMS_DOMAIN ?? process.env.REALM_KMS_DOMAIN ?? 'kms.realm.test';

  const children: Child[] = [];
  let stopping: Promise<{ name: string; code: number | string | null }[]> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // The appliance first (it drains its link), then the core.
      const results: { name: string; code: number | string | null }[] = [];
      for (const child of [...children].reverse()) {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
        const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
        const code = await child.exited;
        clearTimeout(timer);
        await new Promise<void>((done) => child.log.end(() => done()));
        results.push({ name: child.name, code });
      }
      return results;
    })());

  try {
    const ports: number[] = [];
    for (let i = 0; i < nodes; i++) ports.push(i === 0 && options.appliancePort ? options.appliancePort : await freePort());
    // identity.issuer is the appliance's public URL: the SAML ACS and the OAuth issuer derive from it.
    const issuer = `https://127.0.0.1:${ports[0]}`;
    const tlsCaFile = join(dataDir, 'tls', 'dev-cert.pem');

    const { child: idpChild, line: idpLine } = await startChild('dev-idp', DEV_IDP_MAIN, {
      DEV_IDP_DATA_DIR: idpDir,
      DEV_IDP_PORT: String(options.idpPort ?? 0),
      DEV_IDP_SP_METADATA_URL: `${issuer}/saml/metadata`,
      DEV_IDP_SP_CA_FILE: tlsCaFile,
    }, join(logDir, 'dev-idp.log'), (entry) => entry.msg === 'listening');
    children.push(idpChild);
    const idp = { url: String(idpLine.url), metadataFile: String(idpLine.metadataFile), tlsCertFile: String(idpLine.tlsCertFile) };
    say(`development IdP listening on ${idp.url}`);
    const baseEnv: Record<string, string> = {
      ...passThrough(process.env, /^REALM_(?!TEST_)/),
      REALM_DATA_DIR: dataDir,
      REALM_IDENTITY_ISSUER: issuer,
      REALM_IDENTITY_SAML_IDP_METADATA_FILE: idp.metadataFile,
      ...options.applianceEnv,
    };

    // The core trusts the appliance's service CA for link client certificates (narrow-api §2.1).
    await realmctl(['init'], baseEnv, logDir);
    const applianceCaFile = join(coreDir, 'appliance-ca.pem');
    writeFileSync(applianceCaFile, `${(await realmctl(['ca', 'certificate'], baseEnv, logDir)).trim()}\n`);
    const kmsRootsFile = join(dataDir, 'kms-roots.pem');
    writeFileSync(kmsRootsFile, readFileSync(applianceCaFile));

    const coreLog = join(logDir, 'core-sim.log');
    const { child: core, line: coreLine } = await startChild('core-sim', CORE_SIM_MAIN, {
      ...passThrough(process.env, /^CORE_SIM_/),
      CORE_SIM_DATA_DIR: coreDir,
      CORE_SIM_PORT: String(options.corePort ?? 0),
      CORE_SIM_APPLIANCE_CA_FILE: applianceCaFile,
      CORE_SIM_KMS_CLUSTER: `kms://${kmsDomain}`,
    }, coreLog, (entry) => entry.msg === 'listening');
    children.push(core);
    const coreUrl = String(coreLine.url);
    const coreCaFile = String(coreLine.caFile ?? join(coreDir, 'tls', 'core-sim-cert.pem'));
    const linkUrl = String(coreLine.linkUrl);
    say(`core simulator listening on ${coreUrl}`);

    const applianceLogs: string[] = [];
    for (const [i, port] of ports.entries()) {
      const name = nodes === 1 ? 'appliance' : `appliance-${i + 1}`;
      const logFile = join(logDir, `${name}.log`);
      applianceLogs.push(logFile);
      const { child } = await startChild(name, APPLIANCE_MAIN, {
        ...baseEnv,
        REALM_HTTP_PORT: String(port),
        REALM_CORE_LINK_URL: linkUrl,
        REALM_CORE_LINK_CA_FILE: coreCaFile,
        REALM_CORE_LINK_NODE_ID: `dev-node-${i + 1}`,
      }, logFile, (entry) => entry.msg === 'security realm listening');
      children.push(child);
      say(`appliance node ${i + 1} listening on https://127.0.0.1:${port}`);
    }

    const clientId = await demoClient(baseEnv, logDir);
    const linked = await waitForLinks(coreUrl, readFileSync(coreCaFile), nodes, options.linkTimeoutMs ?? 15_000);
    say(linked ? `appliance linked to the core (${nodes} node${nodes > 1 ? 's' : ''})` : 'the appliance did not link to the core: KMS requests go to the appliance directly');

    const description: DevStackDescription = {
      appliance: { url: issuer, nodeUrls: ports.map((p) => `https://127.0.0.1:${p}`), tlsCaFile, kmsRootsFile },
      core: { url: coreUrl, tlsCaFile: coreCaFile, linkUrl },
      idp: { url: idp.url, tlsCaFile: idp.tlsCertFile },
      kmsDomain,
      oauthClient: { clientId, redirectUri: DEMO_REDIRECT_URI },
      linked,
      logs: { appliance: applianceLogs, core: coreLog },
      dataDir,
    };
    // Lets `npm run demo -- --use-running` find this stack. No secret in it: URLs, file names, a public client id.
    writeFileSync(join(dataDir, 'dev-stack.json'), `${JSON.stringify(description, null, 2)}\n`);
    const unexpectedExit = Promise.race(children.map((c) => c.exited.then((code) => ({ name: c.name, code }))));
    return { ...description, unexpectedExit, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Reads the description a running `npm start` wrote. */
export function runningStack(dataDir: string): DevStackDescription {
  return JSON.parse(readFileSync(join(resolve(dataDir), 'dev-stack.json'), 'utf8')) as DevStackDescription;
}

/** Client options for a user of the stack: through the core when the appliance is linked, else to the appliance directly. */
export function clientOptions(stack: DevStackDescription, displayName?: string): RealmClientOptions {
  const applianceCa = readFileSync(stack.appliance.tlsCaFile);
  return {
    core: { url: stack.core.url, ca: readFileSync(stack.core.tlsCaFile) },
    authorizationServer: { issuer: stack.appliance.url, ca: applianceCa, clientId: stack.oauthClient.clientId, redirectUri: stack.oauthClient.redirectUri },
    kms: {
      trustedRoots: [readFileSync(stack.appliance.kmsRootsFile, 'utf8')],
      domain: stack.kmsDomain,
      route: stack.linked ? { via: 'core' } : { via: 'appliance', url: stack.appliance.url, ca: applianceCa },
    },
    ...(displayName !== undefined && { displayName }),
  };
}

/** Signs a demo user in through the development IdP, as their browser would. */
export function signInDemoUser(stack: DevStackDescription, userName: string): Promise<RealmClient> {
  const browser = new HeadlessBrowser({ ca: [readFileSync(stack.appliance.tlsCaFile), readFileSync(stack.idp.tlsCaFile)] });
  return RealmClient.signIn(clientOptions(stack, userName), browser.authorizer(stack.oauthClient.redirectUri, userName));
}

/** The demo OAuth client: registered with realmctl at the first start, found by name afterwards. */
async function demoClient(env: Record<string, string>, logDir: string): Promise<string> {
  const clients = JSON.parse(await realmctl(['client', 'list', '--json'], env, logDir)) as { clientId: string; name: string; redirectUris: string[] }[];
  const existing = clients.find((c) => c.name === DEMO_CLIENT_NAME && c.redirectUris.includes(DEMO_REDIRECT_URI));
  if (existing) return existing.clientId;
  const created = await realmctl(['client', 'create', '--name', DEMO_CLIENT_NAME, '--redirect-uri', DEMO_REDIRECT_URI, '--grant', 'authorization_code', '--grant', 'refresh_token', '--public'], env, logDir);
  const clientId = /^client_id: (\S+)$/m.exec(created)?.[1];
  if (!clientId) throw new Error('realmctl client create printed no client_id');
  return clientId;
}

async function realmctl(args: string[], env: Record<string, string>, logDir: string): Promise<string> {
  const result = await runNode(REALMCTL_MAIN, args, { ...env, REALM_LOG_LEVEL: 'warn' });
  writeFileSync(join(logDir, 'realmctl.log'), `$ realmctl ${args.join(' ')} → ${result.code}\n${result.stderr}`, { flag: 'a' });
  if (result.code !== 0) throw new Error(`realmctl ${args.join(' ')} failed (${result.code}): ${result.stderr.trim().split('\n').at(-1)}`);
  return result.stdout;
}

/**
 * Spawns a node process, copies its stdout and stderr to `logFile`, and resolves with the first
 * JSON line of its stdout that `ready` accepts; rejects (with the tail of its log) if it exits first.
 */
function startChild(name: string, script: string, env: Record<string, string>, logFile: string, ready: (entry: Record<string, unknown>) => boolean): Promise<{ child: Child; line: Record<string, unknown> }> {
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const proc = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | string | null>((done) => proc.on('exit', (code, signal) => done(code ?? signal)));
  const child: Child = { name, process: proc, exited, log };
  let tail = '';
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  proc.stderr!.on('data', (c: Buffer) => (tail = (tail + c.toString()).slice(-2000)));
  return new Promise((resolvePromise, reject) => {
    let started = false;
    onLines(proc.stdout!, (line) => {
      if (started) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (ready(entry)) {
        started = true;
        resolvePromise({ child, line: entry });
      }
    });
    void exited.then((code) => {
      if (!started) reject(new Error(`${name} exited with ${code} before it was ready (log: ${logFile}): ${tail.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Waits until the core's /health counts `nodes` appliance links. */
async function waitForLinks(coreUrl: string, ca: Buffer, nodes: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await httpsGet(`${coreUrl}/health`, ca).catch(() => undefined);
    if (health?.status === 200) {
      const links = (JSON.parse(health.body) as { applianceLinks?: unknown }).applianceLinks;
      if (typeof links === 'number' && links >= nodes) return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function passThrough(env: NodeJS.ProcessEnv, pattern: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => pattern.test(e[0]) && typeof e[1] === 'string'));
}

/** A free TCP port on 127.0.0.1, for the appliance whose issuer URL must name its port before it starts. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
