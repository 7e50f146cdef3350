/**
 * Acknowledged writes survive kill -9: a child creates content keys in a loop, is killed with
 * SIGKILL at a random moment, and every key it had acknowledged is found with identical bytes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createSoftHsmToken, onLines, testDatabases } from '@realm/testing';
import { openVault } from './helpers.js';

const token = createSoftHsmToken('durability');
const writer = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'key-writer.js');

function runAndKill(env: Record<string, string>): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer], { env: { PATH: process.env.PATH, SOFTHSM2_CONF: token.confPath, REALM_LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const acknowledged = new Map<string, string>();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    onLines(child.stdout, (line) => {
      if (line === 'ready') {
        setTimeout(() => child.kill('SIGKILL'), randomInt(150, 900));
        return;
      }
      const [uri, hex] = line.split(' ');
      acknowledged.set(uri!, hex!);
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acknowledged);
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

const backends = [
  { name: 'software', env: {} as Record<string, string> },
  { name: 'pkcs11 (SoftHSM2)', env: token.env },
];

for (const database of testDatabases()) {
  for (const backend of backends) {
    describe(`durability: ${backend.name} on ${database.name}`, () => {
      it('finds every acknowledged key, with identical bytes, after kill -9 and restart', async () => {
        const created = await database.create();
        const env = { ...created.env, ...backend.env };
        const all = new Map<string, string>();
        try {
          for (let round = 0; round < 3; round++) {
            for (const [uri, hex] of await runAndKill(env)) all.set(uri, hex);
            const fx = await openVault(env);
            try {
              const found = await fx.vault.getKeys([...all.keys()]);
              for (const [uri, hex] of all) assert.equal(found.get(uri)?.toString('hex'), hex, `acknowledged key ${uri} after round ${round + 1}`);
            } finally {
              await fx.close();
            }
          }
          assert.ok(all.size > 10, `the writer acknowledged ${all.size} keys before being killed`);
        } finally {
          await created.drop();
        }
      });
    });
  }
}
