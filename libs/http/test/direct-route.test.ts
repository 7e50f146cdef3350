/**
 * serveJsonPostDirectly: a route served ahead of Express must answer every request exactly as the
 * app's Nest route for the same path does (status, headers, body, log line, metrics), valid or not,
 * and leave every request it does not take to Express.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Body, Controller, Header, HttpCode, Module, Post } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Server as HttpsServer } from 'node:https';
import { RealmError } from '@realm/errors';
import { IsString, MaxLength } from 'class-validator';
import { createHttpsApp, defaultHttpErrorStatus, HTTP_ERROR_STATUS, loadTlsMaterial, MetricsModule, serveJsonPostDirectly, type TlsMaterial } from '../src/index.js';
import { captureLogger, eventually, testConfig } from './support.js';

class EchoError extends RealmError<'ECHO_TAKEN'> {}
const echoErrorStatus = (error: RealmError) => (error instanceof EchoError ? 409 : defaultHttpErrorStatus(error));

class EchoDto {
  @IsString()
  @MaxLength(40)
  name!: string;
}

/** Who answered a valid body: the Nest controller or the direct route. */
const handled: ('nest' | 'direct')[] = [];

async function echo(dto: EchoDto): Promise<string> {
  if (dto.name === 'taken') throw new EchoError('ECHO_TAKEN', 'the name taken is taken');
  if (dto.name === 'crash') throw new Error('cannot reach postgres://realm:hunter2@db/realm');
  return JSON.stringify({ name: dto.name, validated: dto instanceof EchoDto });
}

@Controller('echo')
class EchoController {
  @Post()
  @HttpCode(200)
  @Header('Content-Type', 'application/json; charset=utf-8')
  answer(@Body() dto: EchoDto): Promise<string> {
    handled.push('nest');
    return echo(dto);
  }
}

@Module({ imports: [MetricsModule], controllers: [EchoController], providers: [{ provide: HTTP_ERROR_STATUS, useValue: echoErrorStatus }] })
class EchoModule {}

const BODY_LIMIT = 1024;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

interface Sent {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  /** Sent as one piece with its Content-Length, or in pieces with chunked transfer encoding. */
  readonly body?: string | Buffer | readonly (string | Buffer)[];
}

describe('serveJsonPostDirectly', () => {
  let dataDir: string;
  let tls: TlsMaterial;
  const apps: NestExpressApplication<HttpsServer>[] = [];
  let nestPort: number;
  let directPort: number;
  let directLogs: ReturnType<typeof captureLogger>;
  /** The request ids Express saw on the app with the direct route. */
  const reachedExpress: string[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'realm-direct-route-'));
    const config = testConfig({ dataDir, bodyLimitBytes: BODY_LIMIT });
    tls = await loadTlsMaterial(config, captureLogger(config).logger);
    const nest = await createHttpsApp(EchoModule, config, captureLogger(config).logger, tls);
    directLogs = captureLogger(config);
    const direct = await createHttpsApp(EchoModule, config, directLogs.logger, tls);
    direct.use((req: IncomingMessage, _res: unknown, next: () => void) => {
      reachedExpress.push(String(req.headers['x-request-id']));
      next();
    });
    serveJsonPostDirectly(direct, {
      path: '/echo',
      dto: EchoDto,
      handle: (dto) => {
        handled.push('direct');
        return echo(dto);
      },
    });
    apps.push(nest, direct);
    for (const app of apps) await app.listen(0, '127.0.0.1');
    [nestPort, directPort] = apps.map((app) => (app.getHttpServer().address() as AddressInfo).port) as [number, number];
  });

  after(async () => {
    for (const app of apps) await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  function send(port: number, sent: Sent, requestId: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, ca: tls.cert, method: sent.method ?? 'POST', path: sent.path ?? '/echo', headers: { 'X-Request-Id': requestId, ...sent.headers }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (Array.isArray(sent.body)) {
        for (const piece of sent.body) req.write(piece);
        req.end();
      } else {
        req.end(sent.body as string | Buffer | undefined);
      }
    });
  }

  /** The headers both apps must agree on: all but the connection's own and the date. */
  const comparable = (headers: Answer['headers']) =>
    Object.fromEntries(Object.entries(headers).filter(([name]) => !['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name)).sort(([a], [b]) => a.localeCompare(b)));

  const json = { 'Content-Type': 'application/json' };
  const corpus: Record<string, Sent> = {
    'a valid body': { headers: json, body: JSON.stringify({ name: 'lamp' }) },
    'a valid body sent in chunks': { headers: json, body: ['{"name":', '"lamp"}'] },
    'a valid body with a query string': { path: '/echo?via=proxy', headers: json, body: JSON.stringify({ name: 'lamp' }) },
    'a gzip-encoded body': { headers: { ...json, 'Content-Encoding': 'gzip' }, body: gzipSync(JSON.stringify({ name: 'lamp' })) },
    'an unknown property': { headers: json, body: JSON.stringify({ name: 'lamp', isAdmin: true }) },
    'a property of the wrong type': { headers: json, body: JSON.stringify({ name: 7 }) },
    'malformed JSON': { headers: json, body: '{"name": "s3cr3t-fragment' },
    'JSON that is not an object': { headers: json, body: '"lamp"' },
    'an empty body': { headers: json, body: '' },
    'no body at all': {},
    'a body over the limit': { headers: json, body: JSON.stringify({ name: 'x'.repeat(BODY_LIMIT * 4) }) },
    'a chunked body over the limit': { headers: json, body: ['{"name":"', 'x'.repeat(BODY_LIMIT), 'x'.repeat(BODY_LIMIT), '"}'] },
    'another content type': { headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ name: 'lamp' }) },
    'a form-encoded body': { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=lamp' },
    'a form-encoded body with an unknown field': { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=lamp&isAdmin=1' },
    'an unsupported charset': { headers: { 'Content-Type': 'application/json; charset=latin1' }, body: JSON.stringify({ name: 'lamp' }) },
    'an unsupported encoding': { headers: { ...json, 'Content-Encoding': 'compress' }, body: JSON.stringify({ name: 'lamp' }) },
    'a handler refusing with a RealmError': { headers: json, body: JSON.stringify({ name: 'taken' }) },
    'a handler failing unexpectedly': { headers: json, body: JSON.stringify({ name: 'crash' }) },
    'the path with a trailing slash (Express only)': { path: '/echo/', headers: json, body: JSON.stringify({ name: 'lamp' }) },
    'the path in capitals (Express only)': { path: '/ECHO', headers: json, body: JSON.stringify({ name: 'lamp' }) },
    'another method (Express only)': { method: 'GET' },
    'another path (Express only)': { path: '/echoes', headers: json, body: JSON.stringify({ name: 'lamp' }) },
  };

  it('answers every request of the corpus exactly as the Nest route does', async () => {
    let n = 0;
    for (const [what, sent] of Object.entries(corpus)) {
      const requestId = `corpus-${++n}`;
      const viaNest = await send(nestPort, sent, requestId);
      const viaDirect = await send(directPort, sent, requestId);
      assert.equal(viaDirect.status, viaNest.status, what);
      assert.equal(viaDirect.text, viaNest.text, what);
      assert.deepEqual(comparable(viaDirect.headers), comparable(viaNest.headers), what);
      // Express sees only what the direct route does not take.
      assert.equal(reachedExpress.includes(requestId), what.endsWith('(Express only)'), `${what}: ${reachedExpress.includes(requestId) ? 'went to Express' : 'was taken directly'}`);
    }
    // The parity above covers real answers, not only errors.
    const answers = await Promise.all([send(nestPort, corpus['a valid body']!, 'valid-nest'), send(directPort, corpus['a valid body']!, 'valid-direct')]);
    assert.deepEqual(answers.map((a) => [a.status, JSON.parse(a.text)]), [[200, { name: 'lamp', validated: true }], [200, { name: 'lamp', validated: true }]]);
    const errors = await send(directPort, corpus['malformed JSON']!, 'malformed');
    assert.equal(errors.status, 400);
    assert.ok(!errors.text.includes('s3cr3t'), 'the parse error does not quote the body');
    const crash = await send(directPort, corpus['a handler failing unexpectedly']!, 'crash');
    assert.equal(crash.status, 500);
    assert.ok(!crash.text.includes('hunter2') && !crash.text.includes('postgres'), crash.text);
  });

  it('hands valid bodies to its own handler, as an instance of the DTO', async () => {
    handled.length = 0;
    await send(directPort, corpus['a valid body']!, 'handler-direct');
    await send(directPort, corpus['the path with a trailing slash (Express only)']!, 'handler-express');
    assert.deepEqual(handled, ['direct', 'nest']);
  });

  it('logs one access line with the request id, and counts the request under its route', async () => {
    const answer = await send(directPort, { path: '/echo?token=query-secret', headers: json, body: JSON.stringify({ name: 'lamp' }) }, 'logged-1');
    assert.equal(answer.status, 200);
    const line = await eventually(() => directLogs.records().find((r) => r['requestId'] === 'logged-1' && r['msg'] === 'request completed'));
    assert.equal(line['method'], 'POST');
    assert.equal(line['path'], '/echo');
    assert.equal(line['status'], 200);
    assert.equal(typeof line['durationMs'], 'number');
    assert.ok(!directLogs.raw().includes('query-secret'));
    const metrics = await send(directPort, { method: 'GET', path: '/metrics' }, 'metrics-1');
    assert.match(metrics.text, /^realm_http_requests_total\{method="POST",route="\/echo",status="200"\} \d+$/m);
    assert.match(metrics.text, /^realm_http_requests_total\{method="POST",route="\/echo",status="400"\} \d+$/m);
  });
});
