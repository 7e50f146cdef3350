/**
 * http.workers: the appliance as a supervisor and several worker processes sharing the port. Every
 * worker serves requests, a channel negotiated through one serves requests through another, a
 * worker killed with SIGKILL is replaced while the others keep serving, and SIGTERM stops them all
 * cleanly with an intact audit chain.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { availableParallelism } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { bearer, type Realm, sdkClient, startRealm } from './support.js';

describe('appliance with http.workers = 2', () => {
  let realm: Realm;
  before(async () => {
    realm = await startRealm({ REALM_HTTP_WORKERS: '2' });
  });
  after(() => realm.stop());

  const workerPids = () => new Set(realm.app.logs.filter((l) => l.msg === 'worker listening').map((l) => l.pid as number));
  const servedBy = () => new Set(realm.app.logs.filter((l) => l.msg === 'request completed').map((l) => l.pid as number));

  it('announces one listening line once both workers listen, and both serve requests', async () => {
    const listening = realm.app.logs.filter((l) => l.msg === 'security realm listening');
    assert.equal(listening.length, 1);
    assert.equal(listening[0]!.workers, 2);
    assert.equal(workerPids().size, 2);
    assert.ok(!workerPids().has(listening[0]!.pid as number), 'the supervisor serves nothing itself');
    // Workers run with the garbage-collector settings of the supervisor (apps/realm/src/supervisor.ts).
    for (const pid of workerPids()) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const flag of ['--max-semi-space-size=64', '--no-allocation-site-pretenuring']) assert.ok(argv.includes(flag), `worker ${pid} runs with ${flag}`);
      // Two workers: single-threaded GC when they occupy every core.
      assert.equal(argv.includes('--single-threaded-gc'), availableParallelism() <= 2, `worker ${pid}: single-threaded GC only without spare cores (${availableParallelism()} cores)`);
    }
    // Each request opens a new connection; the supervisor hands connections out round-robin.
    for (let i = 0; i < 8; i++) assert.equal((await realm.app.get('/health/live')).status, 200);
    for (const pid of workerPids()) await realm.app.untilLogged(`of a request served by worker ${pid}`, (l) => l.msg === 'request completed' && l.pid === pid);
    assert.deepEqual(servedBy(), workerPids());
  });

  it('serves a KMS conversation whichever worker each request reaches', async () => {
    const [alice, bob] = await Promise.all([realm.user('alice'), realm.user('bob')]);
    const aliceKms = sdkClient(realm, bearer(alice.token));
    const bobKms = sdkClient(realm, bearer(bob.token));
    try {
      const keys = await aliceKms.createKeys(4);
      const resource = await aliceKms.createResource({ authIds: [bob.id], keyUris: keys.map((k) => k.uri) });
      for (const key of keys) assert.deepEqual((await bobKms.retrieveKey(key.uri)).key, key.key);
      assert.equal((await bobKms.resourceKeys(resource.uri)).length, 4);
    } finally {
      await Promise.all([aliceKms.close(), bobKms.close()]);
    }
  });

  /** GET /health/live on a new connection, as request `requestId`; false when it fails or takes more than 2 s. */
  const live = (requestId?: string) =>
    new Promise<boolean>((resolve) => {
      const req = request(`${realm.app.url}/health/live`, { ca: realm.tlsCa, agent: false, timeout: 2000, ...(requestId && { headers: { 'X-Request-Id': requestId } }) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });

  it('replaces a worker killed with SIGKILL; the other keeps serving meanwhile', async () => {
    const [victim, survivor] = [...workerPids()];
    process.kill(victim!, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    // A probe every 100 ms, without waiting for the last: a connection the supervisor had already
    // handed to the killed worker fails or waits out its timeout, as it would behind any load
    // balancer, and must not hold the next probes back until the replacement listens.
    const probes: Promise<boolean>[] = [];
    while (workerPids().size < 3 && Date.now() < deadline) {
      probes.push(live(`restart-probe-${probes.length + 1}`));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(probes);
    const pids = workerPids();
    assert.equal(pids.size, 3, 'a third worker started');
    assert.ok(realm.app.logs.some((l) => l.msg === 'appliance worker exited: starting another' && l.signal === 'SIGKILL'));
    const replacement = [...pids].find((p) => p !== victim && p !== survivor)!;
    const replacementListening = Date.parse(realm.app.logs.find((l) => l.msg === 'worker listening' && l.pid === replacement)!.time as string);
    // Served meanwhile: a probe the surviving worker took before the replacement listened.
    await realm.app.untilLogged(
      `of a probe served by the surviving worker ${survivor} before the replacement listened`,
      (l) => l.msg === 'request completed' && l.pid === survivor && String(l.requestId).startsWith('restart-probe-') && Date.parse(l.time as string) - (l.durationMs as number) <= replacementListening,
    );
    // Round-robin: about half of these reach the replacement.
    for (let i = 0; i < 16; i++) await live();
    await realm.app.untilLogged(`of a request served by the replacement worker ${replacement}`, (l) => l.msg === 'request completed' && l.pid === replacement);
  });

  it('stops every worker on SIGTERM, exits 0, and leaves a verifiable audit chain', async () => {
    assert.equal(await realm.stop(), 0);
    const verify = JSON.parse(await realm.ctl(['audit', 'verify', '--json'])) as { ok: boolean; records: number };
    assert.equal(verify.ok, true);
    assert.ok(verify.records > 0);
  });
});
