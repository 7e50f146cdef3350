/**
 * The KMS benchmark's floor, run as a process of its own: the same codec's decrypt of one request
 * and encrypt of its answer (dir + A256GCM, the sizes of a key retrieval), in one process, with
 * nothing else. Prints a JSON array: the operations per second of seven rounds of 400 ms.
 *
 * A fresh process, not the load process: the load holds every answer of its phase for checking
 * afterwards (hundreds of MB) and runs its own garbage collection between the floor's allocations.
 * It runs with the V8 flags of the appliance's workers, and single-threaded GC (kms.bench.ts says
 * why).
 *
 * argv: <length of a bearer token> (the requests carry one; only its length matters here)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { decryptDirA256Gcm, encryptDirA256Gcm } from '@realm/crypto';

const tokenLength = Number(process.argv[2] ?? 800);
const key = randomBytes(32);
const uri = `kms://kms.realm.test/ecdhe/${randomUUID()}`;
const request = encryptDirA256Gcm(
  key,
  uri,
  Buffer.from(JSON.stringify({ client: { clientId: 'bench', credential: { bearer: 'x'.repeat(tokenLength) } }, requestId: randomUUID(), method: 'retrieve', uri: `kms://kms.realm.test/keys/${randomUUID()}` })),
);
const answer = Buffer.from(
  JSON.stringify({
    status: 200,
    requestId: randomUUID(),
    key: {
      uri: `kms://kms.realm.test/keys/${randomUUID()}`,
      jwk: { kty: 'oct', kid: 'k', k: randomBytes(32).toString('base64url') },
      userId: `user:${randomUUID()}`,
      clientId: 'bench',
      createDate: new Date().toISOString(),
      expirationDate: new Date().toISOString(),
      bindDate: new Date().toISOString(),
      resourceUri: `kms://kms.realm.test/resources/${randomUUID()}`,
    },
  }),
);
const once = () => encryptDirA256Gcm(key, uri, decryptDirA256Gcm(key, request).plaintext.length > 0 ? answer : answer);
for (let i = 0; i < 20_000; i++) once();
const rounds: number[] = [];
for (let round = 0; round < 7; round++) {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 400) {
    for (let i = 0; i < 500; i++) once();
    n += 500;
  }
  rounds.push(n / ((performance.now() - start) / 1000));
}
process.stdout.write(`${JSON.stringify(rounds)}\n`);
