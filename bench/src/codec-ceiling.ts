/**
 * The KMS benchmark's ceiling: what this machine serves when a batch costs nothing but the
 * transport and the codec. Run by the load process (kms-load.ts) between the appliance's phases.
 *
 * As many worker processes as the appliance runs (node:cluster, the appliance's http.workers),
 * node:https with the appliance's own TLS certificate and key, `POST` bodies of the KMS message
 * endpoint's shape. Each message is decrypted with its channel's key (dir + A256GCM, the codec of
 * the floor and of the appliance), its JSON parsed, and answered with a key retrieval's answer of
 * the appliance's shape, encrypted on the channel; the answers are joined as the appliance joins
 * them. Nothing else: no credential, authorization, database, replay log, audit, logging or
 * validation. So the floor and this ceiling split the appliance's cost in two: from the floor to
 * the ceiling is the platform (TLS, HTTP, JSON, two processes on two cores, with the load on the
 * same cores); from the ceiling to the appliance is the KMS's own work.
 *
 * argv: <workers> <TLS certificate file> <TLS key file> <channels file: JSON { channel URI: base64url key }>
 * Prints `{"port":N}` once every worker listens; stops on SIGTERM.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { decryptDirA256Gcm, encryptDirA256Gcm, peekCompactHeader } from '@realm/crypto';

const [workersArg, certFile, keyFile, channelsFile] = process.argv.slice(2);
const workers = Number(workersArg);

if (cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  const channels = new Map(Object.entries(JSON.parse(readFileSync(channelsFile!, 'utf8')) as Record<string, string>).map(([uri, key]) => [uri, Buffer.from(key, 'base64url')]));
  // The fields of a retrieved key as the appliance answers them (KmsOperations' representKey),
  // with the sizes of real ones; the key itself is the same for every answer.
  const k = Buffer.alloc(32, 1).toString('base64url');
  const date = new Date().toISOString();
  const answer = (request: { requestId: string; uri: string }) =>
    Buffer.from(
      JSON.stringify({
        status: 200,
        requestId: request.requestId,
        key: { uri: request.uri, jwk: { kty: 'oct', kid: request.uri, k }, userId: 'user:00000000-0000-4000-8000-000000000000', clientId: 'bench', createDate: date, expirationDate: date, bindDate: date, resourceUri: 'kms://kms.realm.test/resources/00000000-0000-4000-8000-000000000000' },
      }),
    );
  const answerBatch = (body: Buffer): string => {
    const { kmsMessages } = JSON.parse(body.toString('utf8')) as { kmsMessages: string[] };
    const answers = kmsMessages.map((message) => {
      const parsed = peekCompactHeader(message);
      const uri = parsed.header.kid as string;
      const key = channels.get(uri);
      if (key === undefined) throw new Error('unknown channel');
      const request = JSON.parse(decryptDirA256Gcm(key, parsed).plaintext.toString('utf8')) as { requestId: string; uri: string };
      return encryptDirA256Gcm(key, uri, answer(request));
    });
    return `{"kmsMessages":["${answers.join('","')}"]}`;
  };
  createServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let text: string;
      try {
        text = answerBatch(Buffer.concat(chunks));
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  }).listen(0, '127.0.0.1');
}
