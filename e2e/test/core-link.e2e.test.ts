/**
 * The appliance behind the hosted core: the production appliance process dials out to the core
 * simulator process (mutual TLS, the link certificate from the appliance's service CA), and a
 * client that talks only to the core runs the ECDHE handshake and key operations with the KMS.
 * Two appliance nodes are connected at once and both serve. The link comes back by itself after
 * the core cuts it, after the core restarts, and after the appliance froze; relayed clients get a
 * timely error meanwhile, and no request is processed twice. Afterwards the core's database and
 * output hold no token and no key.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreKmsTransport, CoreRelayError, KmsClient } from '@realm/kms-client';
import { Database } from '@realm/persistence';
import { makeTempDir, realmctl, type RunningAppliance, startAppliance, testConfig, testDatabases } from '@realm/testing';
import { type CoreProcess, coreCall, eventually, startCoreProcess } from './core-support.js';
import { freePort } from './support.js';

const CONTROL = 'e2e-core-link-control';

for (const database of testDatabases()) {
  // SQLite: one appliance with two worker processes; PostgreSQL: two appliance processes on one database.
  const topology = database.name === 'sqlite' ? 'http.workers = 2' : 'two appliance processes';
  describe(`the appliance behind the core (${database.name}, ${topology})`, () => {
    const coreOutput: string[] = [];
    const tokens: string[] = [];
    const keyMaterial: string[] = [];
    let created: Awaited<ReturnType<(typeof database)['create']>>;
    let env: Record<string, string>;
    let coreEnv: Record<string, string>;
    let core: CoreProcess;
    let appliances: RunningAppliance[] = [];
    let db: Database;
    const controlCall = (method: string, path: string, body?: unknown) => coreCall(core, method, `/control${path}`, body, { 'x-control-token': CONTROL });
    const links = async () => (await controlCall('GET', '/links')).body.links as { linkId: string; nodeId: string; dispatched: number }[];
    const ctl = async (args: string[]) => {
      const result = await realmctl(args, env);
      if (result.code !== 0) throw new Error(`realmctl ${args.join(' ')}: ${result.stderr}`);
      return result.stdout.trim();
    };

    /** A user of the appliance (realmctl) who reaches the KMS only through the core. */
    const user = async (name: string) => {
      const id = /created user (\S+)/.exec(await ctl(['principal', 'create-user', name]))![1]!;
      const signIn = await coreCall(core, 'POST', '/users', { userId: name });
      const coreToken = signIn.body.token as string;
      const transport = new CoreKmsTransport({ url: core.url, ca: core.caPem, coreToken: () => coreToken });
      const failures: string[] = [];
      transport.onFailure((f) => failures.push(f.code));
      // Issued now, not on the first request: realmctl writes to the database, which a frozen node may hold locked (test 2).
      const token = await ctl(['token', 'issue', id, '--client-id', `${name}-e2e`]);
      tokens.push(token);
      const client = new KmsClient({
        clientId: `${name}-e2e`,
        discovery: () => transport.discovery('kms.realm.test'),
        transport,
        credential: async () => ({ bearer: token }),
        trustedRoots: [env.APPLIANCE_CA!],
        expectedDomain: 'kms.realm.test',
        batching: { debounceMs: 5, maxBatch: 50 },
        timeouts: { initialMs: 2000, renegotiateAfterMs: 10_000, giveUpAfterMs: 30_000 },
      });
      return { id, client, transport, failures, coreToken };
    };

    before(async () => {
      created = await database.create();
      const dataDir = makeTempDir('realm-core-link-');
      env = { ...created.env, REALM_DATA_DIR: dataDir };
      await ctl(['init']);
      const applianceCa = await ctl(['ca', 'certificate']);
      const caFile = join(dataDir, 'appliance-ca.pem');
      writeFileSync(caFile, `${applianceCa}\n`);
      coreEnv = {
        CORE_SIM_DATA_DIR: makeTempDir('core-sim-e2e-'),
        CORE_SIM_PORT: String(await freePort()),
        // Fixed too: the appliance keeps its link URL when the core restarts.
        CORE_SIM_LINK_PORT: String(await freePort()),
        CORE_SIM_APPLIANCE_CA_FILE: caFile,
        CORE_SIM_CONTROL_TOKEN: CONTROL,
        CORE_SIM_HEARTBEAT_INTERVAL_MS: '1000',
        CORE_SIM_HEARTBEAT_TIMEOUT_MS: '1000',
        CORE_SIM_KMS_TIMEOUT_MS: '10000',
      };
      core = await startCoreProcess(coreEnv, coreOutput);
      const link = { REALM_CORE_LINK_URL: core.linkUrl, REALM_CORE_LINK_CA_FILE: core.caFile, REALM_CORE_LINK_RECONNECT_BASE_MS: '100', REALM_CORE_LINK_RECONNECT_MAX_MS: '1000' };
      if (database.name === 'sqlite') {
        appliances = [await startAppliance({ ...env, ...link, REALM_HTTP_WORKERS: '2', REALM_CORE_LINK_NODE_ID: 'appliance' })];
      } else {
        appliances = [await startAppliance({ ...env, ...link, REALM_CORE_LINK_NODE_ID: 'node-a' })];
        appliances.push(await startAppliance({ ...env, ...link, REALM_CORE_LINK_NODE_ID: 'node-b' }));
      }
      env.APPLIANCE_CA = applianceCa;
      db = await Database.open(testConfig(created.env).database, { entities: [], migrations: [] });
      await eventually('two links at the core', async () => (await links()).length === 2);
    });

    after(async () => {
      await db?.close();
      for (const appliance of appliances) await appliance.stop();
      await core?.stop();
      await created?.drop();
    });

    it('relays a client that talks only to the core, through both nodes', async () => {
      const nodeIds = (await links()).map((l) => l.nodeId).sort();
      assert.deepEqual(nodeIds, database.name === 'sqlite' ? ['appliance-w1', 'appliance-w2'] : ['node-a', 'node-b']);
      const alice = await user('alice');
      const bob = await user('bob');
      const keys = await alice.client.createKeys(3);
      const resource = await alice.client.createResource({ authIds: [bob.id], keyUris: keys.map((k) => k.uri) });
      for (const key of keys) {
        keyMaterial.push(key.jwk.k, key.key.toString('base64'), key.key.toString('hex'));
        for (let i = 0; i < 2; i++) assert.deepEqual((await bob.client.retrieveKey(key.uri)).key, key.key);
      }
      assert.equal((await bob.client.resourceKeys(resource.uri)).length, 3);
      for (const l of await links()) assert.ok(l.dispatched > 0, `${l.nodeId} served relayed batches`);
      alice.transport.close();
      bob.transport.close();
    });

    it('comes back by itself after the core cuts it, restarts, or the appliance freezes; clients get a timely error; nothing is processed twice', async () => {
      const carol = await user('carol');
      const [key] = await carol.client.createKeys(1);
      keyMaterial.push(key!.jwk.k, key!.key.toString('base64'), key!.key.toString('hex'));

      // 1. The core cuts every link.
      const before = new Set((await links()).map((l) => l.linkId));
      await controlCall('POST', '/links/close', { mode: 'terminate' });
      await eventually('two new links after the cut', async () => {
        const now = await links();
        return now.length === 2 && now.every((l) => !before.has(l.linkId));
      });
      assert.deepEqual((await carol.client.retrieveKey(key!.uri)).key, key!.key);

      // 2. The core restarts (same port and database): the nodes reconnect, the client carries on.
      assert.equal(await core.stop(), 0);
      core = await startCoreProcess(coreEnv, coreOutput);
      await eventually('two links after the restart', async () => (await links()).length === 2);
      assert.deepEqual((await carol.client.retrieveKey(key!.uri)).key, key!.key);

      // 3. Every appliance process freezes: the core notices by its heartbeat, fails the batch in
      //    flight with LINK_LOST and refuses new ones at once; thawed, the nodes reconnect.
      //    Nothing here may wait for the database: a frozen node can hold its locks.
      const dave = await user('dave');
      const pids = appliances.flatMap((a) => (database.name === 'sqlite' ? a.logs.filter((l) => l.msg === 'worker listening').map((l) => l.pid as number) : [a.child.pid!]));
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        const retrieval = carol.client.retrieveKey(key!.uri);
        await eventually('LINK_LOST for the batch in flight', async () => carol.failures.includes('LINK_LOST'));
        await assert.rejects(dave.client.createKeys(1), (e: unknown) => e instanceof CoreRelayError && e.failure.status === 503 && e.failure.code === 'KMS_UNAVAILABLE');
        dave.transport.close();
        for (const pid of pids) process.kill(pid, 'SIGCONT');
        await eventually('two links after the thaw', async () => (await links()).length === 2);
        assert.deepEqual((await retrieval).key, key!.key, 'the client retried under a new requestId');
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
      carol.transport.close();

      const rows = await db.query<{ body: string }[]>('SELECT body FROM audit_records ORDER BY seq');
      const records = rows.map((r) => JSON.parse(r.body) as Record<string, any>);
      const retrieved = records.filter((r) => r.action === 'kms.key.retrieve' && r.outcome === 'success');
      assert.ok(retrieved.length >= 9);
      assert.equal(new Set(retrieved.map((r) => r.requestId)).size, retrieved.length, 'no requestId was processed twice');
      assert.ok(records.filter((r) => r.action === 'core-link.connect' && r.outcome === 'success').length >= 8, 'every (re)connection is audited');
      assert.ok(records.some((r) => r.action === 'core-link.disconnect'));
    });

    it('leaves no token and no key in the core’s database or output', async () => {
      assert.equal(await core.stop(), 0);
      assert.ok(tokens.length > 0 && keyMaterial.length >= 4);
      const dir = coreEnv.CORE_SIM_DATA_DIR!;
      const stored = readdirSync(dir).filter((f) => f.startsWith('core-sim.db')).map((f) => readFileSync(join(dir, f)).toString('latin1'));
      const haystacks = [...stored, coreOutput.join('\n')];
      for (const secret of [...new Set(tokens), ...keyMaterial]) {
        assert.ok(secret.length > 20);
        for (const text of haystacks) assert.ok(!text.includes(secret), 'a KMS token or key reached the core');
      }
      const applianceLogs = JSON.stringify(appliances.map((a) => a.logs));
      for (const secret of [...new Set(tokens), ...keyMaterial]) assert.ok(!applianceLogs.includes(secret), 'a KMS token or key in the appliance log');
      core = await startCoreProcess(coreEnv, coreOutput);
    });
  });
}
