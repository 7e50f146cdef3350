import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { call, fakeContent, KEY_1, KRO, tempDir } from './support.js';

/** The simulator as a process: CORE_SIM_* settings, the listening line, SIGTERM, and kill -9 with nothing acknowledged lost. */

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../src/main.js');

interface Running {
  child: ChildProcess;
  url: string;
  caPem: string;
  stdout: () => string;
  exited: Promise<number | string | null>;
}

function run(env: Record<string, string>): Promise<Running> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, CORE_SIM_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | string | null>((r) => child.on('exit', (code, signal) => r(code ?? signal)));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const first = stdout.split('\n')[0]!;
      if (stdout.includes('\n') && !(child as { started?: boolean }).started) {
        (child as { started?: boolean }).started = true;
        const line = JSON.parse(first);
        done({ child, url: line.url, caPem: readFileSync(line.caFile, 'utf8'), stdout: () => stdout, exited });
      }
    });
    exited.then((code) => fail(new Error(`exited ${code}: ${stderr}`)));
  });
}

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stderr }));
  });
}

describe('core-sim process', () => {
  it('prints one JSON line with its URL, and exits 0 on SIGTERM', async () => {
    const dataDir = tempDir();
    const sim = await run({ CORE_SIM_DATA_DIR: dataDir, CORE_SIM_KMS_CLUSTER: 'kms://kms.example.test' });
    const line = JSON.parse(sim.stdout().split('\n')[0]!);
    assert.equal(line.msg, 'listening');
    assert.match(line.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(line.kmsCluster, 'kms://kms.example.test');
    assert.equal(line.controlApi, 'off');
    assert.equal((await call(sim, 'GET', '/health')).body.kmsCluster, 'kms://kms.example.test');
    sim.child.kill('SIGTERM');
    assert.equal(await sim.exited, 0);
    assert.match(sim.stdout(), /"msg":"stopped"/);
  });

  it('refuses a bad or unknown setting with one line naming it (exit 2)', async () => {
    let result = await runToExit({ CORE_SIM_PORT: 'eighty' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^core-sim: CORE_SIM_PORT: /);
    result = await runToExit({ CORE_SIM_COLOUR: 'red' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /CORE_SIM_COLOUR: unknown setting/);
    result = await runToExit({ CORE_SIM_APPLIANCE_CA_FILE: '/nonexistent/ca.pem' });
    assert.match(result.stderr, /CORE_SIM_APPLIANCE_CA_FILE: cannot read/);
  });

  it('keeps every acknowledged write across kill -9, with core tokens stored only as hashes', async () => {
    const dataDir = tempDir();
    const env = { CORE_SIM_DATA_DIR: dataDir, CORE_SIM_LOG_LEVEL: 'silent' };
    const first = await run(env);
    const alice = (await call(first, 'POST', '/users', { body: { userId: 'alice@realm.test' } })).body.token;
    await call(first, 'POST', '/users', { body: { userId: 'bob@realm.test' } });
    const room = (await call(first, 'POST', '/rooms', { token: alice, body: { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants: ['bob@realm.test'] } })).body;
    const acknowledged: string[] = [];
    // Writes race the kill: only those acknowledged before it count.
    let killed = false;
    const writer = (async () => {
      for (let i = 0; !killed; i++) {
        try {
          const reply = await call(first, 'POST', `/rooms/${room.id}/activities`, { token: alice, body: { encryptedContent: fakeContent(`m${i}`), encryptionKeyUrl: KEY_1 } });
          if (reply.status === 201 && !killed) acknowledged.push(reply.body.id);
        } catch {
          return;
        }
      }
    })();
    // Killed mid-stream, once a few writes are through (however slow the machine is).
    const deadline = Date.now() + 20_000;
    while (acknowledged.length <= 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    first.child.kill('SIGKILL');
    await first.exited;
    killed = true;
    await writer;
    assert.ok(acknowledged.length > 5, `${acknowledged.length} writes acknowledged`);

    const second = await run(env);
    try {
      assert.equal(second.caPem, first.caPem, 'the generated certificate is reused');
      const token = (await call(second, 'GET', '/users/me', { token: alice })).status === 200 ? alice : undefined;
      assert.ok(token, 'a token issued before the crash still works');
      const listed: string[] = [];
      let after = '';
      for (;;) {
        const page = await call(second, 'GET', `/rooms/${room.id}/activities?limit=500${after}`, { token: alice });
        listed.push(...page.body.items.map((a: any) => a.id));
        if (page.body.nextCursor === null) break;
        after = `&after=${page.body.nextCursor}`;
      }
      for (const id of acknowledged) assert.ok(listed.includes(id), `acknowledged activity ${id} survived`);
      const restored = (await call(second, 'GET', `/rooms/${room.id}`, { token: alice })).body;
      assert.deepEqual(restored.participants.sort(), ['alice@realm.test', 'bob@realm.test']);
      assert.equal(restored.kmsResourceObjectUrl, KRO);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    // What is on disk: WAL + synchronous FULL; tokens only as hashes.
    const db = new Database(join(dataDir, 'core-sim.db'), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const dump = JSON.stringify(db.prepare('SELECT * FROM user_tokens').all());
      assert.ok(!dump.includes(alice), 'the core token is stored hashed');
      assert.deepEqual(
        (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name),
        ['activities', 'blind_tokens', 'kms_discovery', 'room_participants', 'rooms', 'user_tokens', 'users'],
      );
    } finally {
      db.close();
    }
  });
});
