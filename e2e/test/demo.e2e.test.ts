/**
 * `npm run demo` end to end: its entry (apps/dev-stack/dist/src/demo.js) starts its own stack (the
 * appliance, the core simulator, the development IdP), plays the scenario and must exit 0 with the
 * transcript's every step. Then the leak scan: the core simulator's database files and log hold none
 * of the plaintext messages and none of the keys the clients saw (base64url or raw bytes); the
 * appliance's log holds no key and no access or refresh token. On SQLite with one appliance node,
 * and, with REALM_TEST_POSTGRES_URL, with two appliance nodes on one PostgreSQL database behind the core.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeTempDir, repoRoot, testDatabases } from '@realm/testing';

const DEMO_MAIN = join(repoRoot, 'apps/dev-stack/dist/src/demo.js');

interface Evidence {
  readonly plaintexts: string[];
  readonly keys: string[];
  readonly tokens: string[];
}

function runDemo(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO_MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every file of the core simulator's database (main file, WAL, shared memory). */
function coreDatabaseFiles(dataDir: string): string[] {
  const dir = join(dataDir, 'core-sim');
  return readdirSync(dir).filter((f) => f.startsWith('core-sim.db')).map((f) => join(dir, f));
}

for (const database of testDatabases()) {
  const nodes = database.name === 'postgres' ? 2 : 1;
  describe(`npm run demo on ${database.name} with ${nodes} appliance node${nodes > 1 ? 's' : ''} behind the core`, () => {
    it('plays the scenario, exits 0, and leaves no plaintext or key at the core and no key or token in the appliance log', async () => {
      const created = await database.create();
      try {
        const dataDir = makeTempDir('realm-demo-e2e-');
        const evidenceFile = join(makeTempDir('realm-demo-evidence-'), 'evidence.json');
        const env: Record<string, string> = database.name === 'postgres' ? { REALM_DATABASE_URL: created.env.REALM_DATABASE_URL! } : {};
        const run = await runDemo(['--data-dir', dataDir, '--evidence-file', evidenceFile, '--nodes', String(nodes)], env);
        assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);

        // The transcript's key lines, in order.
        const expected = [
          nodes > 1 ? /appliance linked to the core \(2 nodes\)/ : /appliance linked to the core \(1 node\)/,
          /KMS messages travel through the core/,
          /1\. alice, bob and carol sign in through SSO/,
          /alice signed in as user:/,
          /2\. alice creates a room with bob/,
          /3\. they exchange messages through the core/,
          /alice → bob: "Hi Bob/,
          /bob → alice: "Thanks Alice/,
          /4\. carol, not a member, is refused/,
          /the KMS refuses her the key \(404\)/,
          /5\. alice removes bob; the room key rotates/,
          /6\. bob still reads the old messages, and not the new one/,
          /bob re-reads both old messages/,
          /the KMS refuses him the new key \(404\)/,
          /✓ every step behaved/,
        ];
        let at = 0;
        for (const pattern of expected) {
          const match = pattern.exec(run.stdout.slice(at));
          assert.ok(match, `the transcript shows ${pattern} after what came before:\n${run.stdout}`);
          at += match.index + match[0].length;
        }

        const evidence = JSON.parse(readFileSync(evidenceFile, 'utf8')) as Evidence;
        assert.equal(evidence.plaintexts.length, 3);
        assert.ok(evidence.keys.length >= 2, 'the clients held the first and the rotated key');
        assert.ok(evidence.tokens.length >= 3, 'access and refresh tokens of the users');

        // What the core stores: the scan reads the right files (ciphertext and key URLs are there) ...
        const files = coreDatabaseFiles(dataDir);
        assert.ok(files.some((f) => f.endsWith('core-sim.db')), `the core's database is in ${dataDir}/core-sim`);
        const coreBytes = Buffer.concat(files.map((f) => readFileSync(f)));
        assert.ok(coreBytes.includes('eyJhbGciOiJkaXIi'), 'the core stores the content JWEs');
        assert.ok(coreBytes.includes('kms://kms.realm.test/keys/'), 'and their key URLs');
        const coreLog = readFileSync(join(dataDir, 'logs', 'core-sim.log'));
        assert.ok(coreLog.length > 0);
        // ... and finds no plaintext and no key.
        for (const text of evidence.plaintexts) {
          for (const fragment of [text, text.slice(0, 16)]) {
            assert.ok(!coreBytes.includes(Buffer.from(fragment, 'utf8')), `no plaintext in the core's database: ${fragment}`);
            assert.ok(!coreLog.includes(Buffer.from(fragment, 'utf8')), `no plaintext in the core's log: ${fragment}`);
          }
        }
        for (const key of evidence.keys) {
          const raw = Buffer.from(key, 'base64url');
          assert.equal(raw.length, 32);
          for (const form of [Buffer.from(key), raw, Buffer.from(raw.toString('base64')), Buffer.from(raw.toString('hex'))]) {
            assert.ok(!coreBytes.includes(form), 'no key in the core database');
            assert.ok(!coreLog.includes(form), 'no key in the core log');
          }
        }
        for (const token of evidence.tokens) {
          assert.ok(!coreBytes.includes(token) && !coreLog.includes(token), 'no KMS token at the core');
        }

        // The appliance's logs: no key and no token.
        const applianceLogs = readdirSync(join(dataDir, 'logs')).filter((f) => f.startsWith('appliance'));
        assert.equal(applianceLogs.length, nodes);
        for (const file of applianceLogs) {
          const log = readFileSync(join(dataDir, 'logs', file));
          assert.ok(log.includes('security realm listening'), `${file} is the appliance's log`);
          for (const key of evidence.keys) {
            const raw = Buffer.from(key, 'base64url');
            for (const form of [Buffer.from(key), Buffer.from(raw.toString('base64')), Buffer.from(raw.toString('hex'))]) assert.ok(!log.includes(form), `no key in ${file}`);
          }
          for (const token of evidence.tokens) assert.ok(!log.includes(token), `no access or refresh token in ${file}`);
        }
        // Nor the demo's own transcript (it shows the messages, which is its point, but never a key or token).
        for (const secret of [...evidence.keys, ...evidence.tokens]) assert.ok(!run.stdout.includes(secret));
        assert.ok(existsSync(join(dataDir, 'dev-stack.json')));
      } finally {
        await created.drop();
      }
    });
  });
}
