import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { HeadlessBrowser, RealmClient, type RealmClientOptions } from '../src/index.js';
import { httpsGet, httpsRequest, makeTempDir, onLines, realmctl, repoRoot, type RunningAppliance, startAppliance, TestSamlIdp } from '@realm/testing';

export const REDIRECT_URI = 'test.realm.client:/oauth/callback';
const CORE_SIM_MAIN = join(repoRoot, 'apps/core-sim/dist/src/main.js');

/** The appliance (a real process, SQLite), the core simulator (a real process, with its control API) and an IdP with HTTPS pages. */
export interface TestStack {
  readonly idp: TestSamlIdp;
  readonly realm: RunningAppliance;
  readonly issuer: string;
  readonly applianceTlsCa: Buffer;
  readonly kmsRoot: string;
  readonly core: { readonly url: string; readonly ca: string; readonly log: string[] };
  readonly clientId: string;
  options(): RealmClientOptions;
  signIn(userName: string): Promise<RealmClient>;
  /** The simulator's test-control API (apps/core-sim/README.md). */
  control(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

const CONTROL_TOKEN = 'realm-client-test-control';

export async function startTestStack(): Promise<TestStack> {
  const idp = TestSamlIdp.create();
  await idp.listen();
  for (const name of ['alice', 'bob', 'carol', 'dave']) idp.addUser(name, { nameId: `${name}@realm.test`, email: `${name}@realm.test`, groups: ['staff'] });
  const dataDir = makeTempDir('realm-client-');
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const metadataFile = join(dataDir, 'idp-metadata.xml');
  idp.writeMetadata(metadataFile);
  const env: Record<string, string> = { REALM_DATA_DIR: dataDir, REALM_HTTP_PORT: String(port), REALM_IDENTITY_ISSUER: issuer, REALM_IDENTITY_SAML_IDP_METADATA_FILE: metadataFile };
  const ctl = async (args: string[]) => {
    const result = await realmctl(args, env);
    if (result.code !== 0) throw new Error(`realmctl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout;
  };
  await ctl(['init']);
  const kmsRoot = (await ctl(['ca', 'certificate'])).trim();
  const caFile = join(dataDir, 'appliance-ca.pem');
  writeFileSync(caFile, `${kmsRoot}\n`);

  const coreLog: string[] = [];
  const coreChild = spawn(process.execPath, [CORE_SIM_MAIN], {
    env: { PATH: process.env.PATH, CORE_SIM_DATA_DIR: join(dataDir, 'core-sim'), CORE_SIM_APPLIANCE_CA_FILE: caFile, CORE_SIM_CONTROL_TOKEN: CONTROL_TOKEN, CORE_SIM_KMS_TIMEOUT_MS: '5000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const coreExited = new Promise<number | string | null>((done) => coreChild.on('exit', (code, signal) => done(code ?? signal)));
  const coreLine = await new Promise<Record<string, unknown>>((resolve, reject) => {
    onLines(coreChild.stdout, (line) => {
      coreLog.push(line);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === 'listening') resolve(entry);
      } catch {
        // not JSON
      }
    });
    void coreExited.then((code) => reject(new Error(`core-sim exited with ${code}`)));
  });
  const core = { url: String(coreLine.url), ca: readFileSync(String(coreLine.caFile), 'utf8'), log: coreLog };

  const realm = await startAppliance({ ...env, REALM_CORE_LINK_URL: String(coreLine.linkUrl), REALM_CORE_LINK_CA_FILE: String(coreLine.caFile), REALM_CORE_LINK_NODE_ID: 'realm-client-test' });
  const applianceTlsCa = readFileSync(join(dataDir, 'tls', 'dev-cert.pem'));
  idp.trustServiceProvider((await realm.get('/saml/metadata')).body);
  const created = await ctl(['client', 'create', '--name', 'realm-client-test', '--redirect-uri', REDIRECT_URI, '--grant', 'authorization_code', '--grant', 'refresh_token', '--public']);
  const clientId = /^client_id: (\S+)$/m.exec(created)![1]!;

  // The appliance dials out to the core: wait for its link, so KMS requests go through the core.
  for (let i = 0; ; i++) {
    const health = JSON.parse((await httpsGet(`${core.url}/health`, core.ca)).body) as { applianceLinks: number };
    if (health.applianceLinks >= 1) break;
    if (i > 150) throw new Error('the appliance did not link to the core');
    await new Promise((r) => setTimeout(r, 100));
  }

  const options = (): RealmClientOptions => ({
    core: { url: core.url, ca: core.ca },
    authorizationServer: { issuer, ca: applianceTlsCa, clientId, redirectUri: REDIRECT_URI },
    kms: { trustedRoots: [kmsRoot], domain: 'kms.realm.test', timeouts: { initialMs: 2000, renegotiateAfterMs: 6000, giveUpAfterMs: 10_000 } },
  });
  return {
    idp,
    realm,
    issuer,
    applianceTlsCa,
    kmsRoot,
    core,
    clientId,
    options,
    signIn: (userName) => RealmClient.signIn(options(), new HeadlessBrowser({ ca: [applianceTlsCa, idp.tlsCertificatePem!] }).authorizer(REDIRECT_URI, userName)),
    async control(method, path, body) {
      const answer = await httpsRequest(method, `${core.url}/control${path}`, core.ca, body === undefined ? undefined : JSON.stringify(body), { 'x-control-token': CONTROL_TOKEN });
      return { status: answer.status, body: answer.body ? JSON.parse(answer.body) : undefined };
    },
    async stop() {
      await realm.stop();
      coreChild.kill('SIGTERM');
      await coreExited;
      await idp.close();
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
