/**
 * Vault benchmark: content-key seal + open (AES-256-GCM under a cached KEK, AAD = key URI) per
 * second for each backend, against the raw node:crypto AES-256-GCM encrypt + decrypt of the same
 * 32-byte key measured in the same run. Target: every backend at least 50% of the raw rate, which
 * holds only if the backend (the HSM) is touched for KEKs and never per content key.
 *
 * Last line: one JSON object with the figures and the ratios.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { Database } from '@realm/persistence';
import { createSoftHsmToken, makeTempDir, testConfig } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { opsPerSecond, round } from './measure.js';

const TARGET_RATIO = 0.5;
const token = createSoftHsmToken('bench-vault');

async function rawFloor(): Promise<number> {
  const kek = randomBytes(32);
  const key = randomBytes(32);
  const aad = Buffer.from(`kms://kms.realm.test/keys/${randomUUID()}`);
  return opsPerSecond(() => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', kek, iv);
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(key), cipher.final()]);
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('aes-256-gcm', kek, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  });
}

async function backendRate(env: Record<string, string>): Promise<{ sealOpen: number; storedCreateGet: number; backendCallsDuringRun: number }> {
  const dir = makeTempDir('realm-bench-');
  const config = testConfig({ REALM_DATA_DIR: dir, ...env });
  const db = await Database.open(config.database, { entities: VAULT_ENTITIES, migrations: VAULT_MIGRATIONS });
  await db.migrate();
  const vault = await KeyVault.open(config, db);
  await vault.initialize();
  const uri = `kms://${config.kms.domain}/keys/${randomUUID()}`;
  const key = randomBytes(32);
  await vault.open(uri, await vault.seal(uri, key));
  const callsBefore = vault.counters.backendUnwraps + vault.counters.backendWraps;
  const sealOpen = await opsPerSecond(async () => vault.open(uri, await vault.seal(uri, key)));
  const backendCallsDuringRun = vault.counters.backendUnwraps + vault.counters.backendWraps - callsBefore;
  // Informational: with the database (one transaction per create, fsync at every commit).
  const storedCreateGet = await opsPerSecond(async () => {
    const u = `kms://${config.kms.domain}/keys/${randomUUID()}`;
    await vault.createKey(u);
    return vault.getKey(u);
  }, 1);
  vault.close();
  await db.close();
  return { sealOpen, storedCreateGet, backendCallsDuringRun };
}

const raw = await rawFloor();
const software = await backendRate({});
const pkcs11 = await backendRate(token.env);
const result = {
  benchmark: 'vault',
  unit: 'content-key seal+open per second',
  rawAesGcm: round(raw),
  software: { sealOpen: round(software.sealOpen), ratio: +(software.sealOpen / raw).toFixed(3), backendCalls: software.backendCallsDuringRun, storedCreateGet: round(software.storedCreateGet) },
  pkcs11: { sealOpen: round(pkcs11.sealOpen), ratio: +(pkcs11.sealOpen / raw).toFixed(3), backendCalls: pkcs11.backendCallsDuringRun, storedCreateGet: round(pkcs11.storedCreateGet) },
  target: TARGET_RATIO,
  pass: software.sealOpen / raw >= TARGET_RATIO && pkcs11.sealOpen / raw >= TARGET_RATIO,
};
console.log(`raw node:crypto AES-256-GCM encrypt+decrypt : ${result.rawAesGcm} /s`);
console.log(`software vault seal+open                   : ${result.software.sealOpen} /s (${(result.software.ratio * 100).toFixed(1)}% of raw)`);
console.log(`pkcs11 (SoftHSM2) vault seal+open          : ${result.pkcs11.sealOpen} /s (${(result.pkcs11.ratio * 100).toFixed(1)}% of raw)`);
console.log(`stored create+get (SQLite, fsync per commit): software ${result.software.storedCreateGet} /s, pkcs11 ${result.pkcs11.storedCreateGet} /s`);
console.log(JSON.stringify(result));
