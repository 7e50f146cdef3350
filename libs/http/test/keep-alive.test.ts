import 'reflect-metadata';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { IsString, MaxLength } from 'class-validator';
import { createHttpsApp, defaultHttpErrorStatus, HTTP_ERROR_STATUS, loadTlsMaterial, MetricsModule } from '../src/index.js';
import { captureLogger, testConfig, withTempDir } from './support.js';

/** The request's payload; the answer carries it twice. Both are well above the 16 KiB default write high-water mark. */
const PAYLOAD_CHARS = 50_000;
/** Keep-alive connections, each kept busy by one client loop. */
const CONNECTIONS = 4;
const REQUESTS_PER_CONNECTION = 150;

class EchoDto {
  @IsString()
  @MaxLength(64)
  id!: string;

  @IsString()
  @MaxLength(PAYLOAD_CHARS)
  payload!: string;
}

@Controller('echo')
class EchoController {
  /**
   * Answers the id and the payload twice, after yielding to the event loop once, as a handler that
   * waits on anything (the database, the HSM) does: the answer is then written outside the poll
   * phase, and the server reads the next request before that write has drained.
   */
  @Post()
  @HttpCode(200)
  async echo(@Body() dto: EchoDto): Promise<{ id: string; echoes: string[] }> {
    await new Promise((resolve) => setImmediate(resolve));
    return { id: dto.id, echoes: [dto.payload, dto.payload] };
  }
}

@Module({
  imports: [MetricsModule],
  controllers: [EchoController],
  providers: [{ provide: HTTP_ERROR_STATUS, useValue: defaultHttpErrorStatus }],
})
class EchoModule {}

interface ClientOptions {
  readonly port: number;
  readonly ca: string;
  readonly connections: number;
  readonly requestsPerConnection: number;
  readonly payloadChars: number;
}

interface ClientReport {
  readonly answered: number;
  readonly failures: string[];
}

/**
 * The client, run as the source of a worker thread, so it uses nothing from this module but types.
 * A keep-alive agent with `connections` sockets and as many loops: each loop POSTs its next request
 * the moment it has read the whole previous answer, and checks the answer echoes its id and payload.
 */
async function keepAliveClient(options: ClientOptions): Promise<ClientReport> {
  const { Agent, request } = require('node:https') as typeof import('node:https');
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, ca: options.ca });
  const payload = 'x'.repeat(options.payloadChars);
  const post = (body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = request({ host: '127.0.0.1', port: options.port, method: 'POST', path: '/echo', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  let answered = 0;
  const failures: string[] = [];
  const loop = async (connection: number) => {
    for (let i = 0; i < options.requestsPerConnection; i++) {
      const id = `c${connection}-r${i}`;
      try {
        const { status, text } = await post(JSON.stringify({ id, payload }));
        const answer = status === 200 ? (JSON.parse(text) as { id?: unknown; echoes?: unknown }) : undefined;
        const echoes = answer?.echoes;
        if (answer?.id === id && Array.isArray(echoes) && echoes.length === 2 && echoes.every((echo) => echo === payload)) answered++;
        else failures.push(`${id}: status ${status}, ${text.slice(0, 120)}`);
      } catch (error) {
        const { code, message } = error as NodeJS.ErrnoException;
        failures.push(`${id}: ${code ?? 'error'} ${message}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, (_, connection) => loop(connection)));
  } finally {
    agent.destroy();
  }
  return { answered, failures };
}

/** Runs {@link keepAliveClient} on its own thread and event loop, as a separate client process would. */
async function runClientThread(options: ClientOptions): Promise<ClientReport> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    (${keepAliveClient.toString()})(workerData).then((report) => parentPort.postMessage(report));
  `;
  const worker = new Worker(source, { eval: true, workerData: options });
  try {
    return await new Promise<ClientReport>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the client thread exited (${code}) without a report`)));
    });
  } finally {
    await worker.terminate();
  }
}

describe('HTTPS keep-alive', () => {
  // Node 20's HTTP server pauses its parser when a request arrives on a keep-alive connection whose
  // previous answer has not drained yet (needDrain: the answer was above the socket's 16 KiB write
  // high-water mark). On a TLS socket the cleartext already decrypted still reaches the paused
  // parser, which fails with HPE_PAUSED ("Parse Error: Paused"), and the server destroys the
  // connection without an answer: the client sees "socket hang up" or ECONNRESET. createHttpsApp
  // raises every TLS socket's write high-water mark so that no answer leaves it needing drain.
  // The race needs a client on another thread (in the server's event loop it cannot send before the
  // drain) and answers written after the handler yielded (see EchoController).
  it('a client that sends its next request as soon as it has read a large answer is answered on the same connection, every time', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir, logLevel: 'warn' });
      const { logger } = captureLogger(config);
      const tls = await loadTlsMaterial(config, logger);
      const app = await createHttpsApp(EchoModule, config, logger, tls);
      try {
        await app.listen(0, '127.0.0.1');
        const { port } = app.getHttpServer().address() as AddressInfo;
        const { answered, failures } = await runClientThread({
          port,
          ca: tls.cert,
          connections: CONNECTIONS,
          requestsPerConnection: REQUESTS_PER_CONNECTION,
          payloadChars: PAYLOAD_CHARS,
        });
        assert.deepEqual(
          { answered, failed: failures.length, firstFailures: failures.slice(0, 5) },
          { answered: CONNECTIONS * REQUESTS_PER_CONNECTION, failed: 0, firstFailures: [] },
        );
      } finally {
        await app.close();
      }
    }));

  // Node's own default (5 s) is shorter than the idle timeout of the pools and load balancers in
  // front of a server, which then reuse connections the server is closing. http.keepAliveTimeout
  // (65 s by default, see the configuration tests) is set on the server and announced in the
  // Keep-Alive header. Here 2 s, to see both sides of it, with a bare TLS client: Node's own agent
  // closes idle connections a second before the server's announced timeout.
  it('keeps an idle connection open for http.keepAliveTimeout, announces it, then closes it', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir, logLevel: 'warn', keepAliveTimeout: '2s' });
      const { logger } = captureLogger(config);
      const tls = await loadTlsMaterial(config, logger);
      const app = await createHttpsApp(EchoModule, config, logger, tls);
      let socket: TLSSocket | undefined;
      try {
        await app.listen(0, '127.0.0.1');
        const { port } = app.getHttpServer().address() as AddressInfo;
        socket = connect({ host: '127.0.0.1', port, ca: tls.cert, servername: 'localhost' });
        await once(socket, 'secureConnect');
        let received = '';
        socket.setEncoding('utf8');
        socket.on('data', (text: string) => (received += text));
        const closed = once(socket, 'close');
        const post = async (id: string) => {
          received = '';
          const body = JSON.stringify({ id, payload: 'p' });
          socket!.write(`POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
          for (const started = performance.now(); !received.includes(`"id":"${id}"`); await sleep(5)) {
            if (performance.now() - started > 5_000) assert.fail(`no answer to ${id}: ${received.slice(0, 200)}`);
          }
          return received;
        };
        const first = await post('first');
        assert.match(first, /^HTTP\/1\.1 200 /);
        assert.match(first, /\r\nkeep-alive: timeout=2\r\n/i);
        await sleep(1_000);
        assert.match(await post('after-1s-idle'), /^HTTP\/1\.1 200 /, 'answered on the same connection after 1 s idle');
        const idleSince = performance.now();
        const closedInTime = await Promise.race([closed.then(() => true), sleep(10_000, false, { ref: false })]);
        const idleMs = performance.now() - idleSince;
        assert.equal(closedInTime, true, 'the server closed the idle connection');
        assert.ok(idleMs >= 1_500 && idleMs < 4_500, `closed after ${Math.round(idleMs)} ms idle: about http.keepAliveTimeout (2 s), not Node's default (5 s)`);
      } finally {
        socket?.destroy();
        await app.close();
      }
    }));
});
