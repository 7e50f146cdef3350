import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Body, Controller, Get, Injectable, Module, Param, Post, Req } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError } from '@realm/config';
import { assertUnreachable, RealmError } from '@realm/errors';
import { IsString, MaxLength } from 'class-validator';
import type { Server as HttpsServer } from 'node:https';
import {
  createHttpsApp,
  defaultHttpErrorStatus,
  HTTP_ERROR_STATUS,
  HealthModule,
  loadTlsMaterial,
  Metrics,
  MetricsModule,
  type ErrorResponseBody,
  type HealthCheckResult,
  type HealthIndicator,
  type TlsMaterial,
} from '../src/index.js';
import { captureLogger, eventually, httpsRequest, testConfig, type LogRecord, type TestResponse } from './support.js';

type ThingErrorCode = 'THING_NOT_FOUND';
class ThingError extends RealmError<ThingErrorCode> {}

function thingErrorStatus(error: RealmError): number {
  if (error instanceof ThingError) {
    switch (error.code) {
      case 'THING_NOT_FOUND':
        return 404;
      default:
        return assertUnreachable(error.code);
    }
  }
  return defaultHttpErrorStatus(error);
}

class CreateThingDto {
  @IsString()
  @MaxLength(40)
  name!: string;
}

const DATABASE_PASSWORD = 'hunter2-do-not-print';

@Controller('things')
class ThingsController {
  @Get(':id')
  get(@Param('id') id: string, @Req() req: IncomingMessage): { id: string } {
    // What a careless handler might do: the logger must redact the credentials.
    req.log.info({ headers: req.headers }, 'reading a thing');
    return { id };
  }

  @Get(':id/missing')
  missing(@Param('id') id: string): never {
    throw new ThingError('THING_NOT_FOUND', `no thing has the id ${id}`, { cause: new Error('row count 0 in table things') });
  }

  @Get(':id/misconfigured')
  misconfigured(): never {
    throw new ConfigError('CONFIG_MISSING_VALUE', 'vault.pkcs11.pin must be set', { setting: 'vault.pkcs11.pin' });
  }

  @Get(':id/crash')
  crash(): never {
    throw new Error(`cannot connect to postgres://realm:${DATABASE_PASSWORD}@db/realm`);
  }

  @Post()
  create(@Body() dto: CreateThingDto): { name: string; validated: boolean } {
    return { name: dto.name, validated: dto instanceof CreateThingDto };
  }
}

/** An indicator the tests switch between answers; Nest creates it, the tests reach it with app.get. */
@Injectable()
class SwitchableIndicator implements HealthIndicator {
  readonly name = 'switchable';
  mode: 'ok' | 'fail' | 'throw' | 'hang' = 'ok';

  check(): Promise<HealthCheckResult> {
    switch (this.mode) {
      case 'ok':
        return Promise.resolve({ ok: true, detail: 'all good' });
      case 'fail':
        return Promise.resolve({ ok: false, detail: 'token not present' });
      case 'throw':
        return Promise.reject(new Error(`login failed with PIN ${DATABASE_PASSWORD}`));
      case 'hang':
        return new Promise(() => {});
    }
  }
}

const constantIndicator: HealthIndicator = { name: 'constant', check: () => Promise.resolve({ ok: true }) };
const HEALTH_TIMEOUT_MS = 200;

@Module({
  imports: [MetricsModule, HealthModule.forRoot({ indicators: [SwitchableIndicator, constantIndicator], timeoutMs: HEALTH_TIMEOUT_MS })],
  controllers: [ThingsController],
  providers: [{ provide: HTTP_ERROR_STATUS, useValue: thingErrorStatus }],
})
class TestAppModule {}

const BODY_LIMIT = 1024;

describe('HTTP platform', () => {
  let dataDir: string;
  let app: NestExpressApplication<HttpsServer>;
  let tls: TlsMaterial;
  let port: number;
  let logs: ReturnType<typeof captureLogger>;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'realm-http-app-'));
    const config = testConfig({ dataDir, bodyLimitBytes: BODY_LIMIT });
    logs = captureLogger(config);
    tls = await loadTlsMaterial(config, logs.logger);
    app = await createHttpsApp(TestAppModule, config, logs.logger, tls);
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  });

  after(async () => {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const send = (options: Parameters<typeof httpsRequest>[2]) => httpsRequest(port, tls.cert, options);
  const accessLineOf = (requestId: string) => eventually(() => logs.records().find((r) => r['requestId'] === requestId && r['msg'] === 'request completed'));

  function assertErrorResponse(response: TestResponse, status: number, code: string): ErrorResponseBody['error'] {
    assert.equal(response.status, status, response.text);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json() as ErrorResponseBody;
    assert.deepEqual(Object.keys(body), ['error']);
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, 'string');
    assert.equal(body.error.requestId, response.headers['x-request-id']);
    assert.ok(!/\bat .+:\d+:\d+/.test(response.text), 'no stack frame in the body');
    assert.ok(!response.text.includes('cause'), 'no cause in the body');
    return body.error;
  }

  describe('errors', () => {
    it('a RealmError gets the status of the app mapping and its own message, not its cause', async () => {
      const error = assertErrorResponse(await send({ path: '/things/42/missing' }), 404, 'THING_NOT_FOUND');
      assert.equal(error.message, 'no thing has the id 42');
      assert.equal(Object.keys(error).length, 3);
    });

    it('a RealmError mapped to 500 gets a generic body, and its message only goes to the log', async () => {
      const response = await send({ path: '/things/42/misconfigured' });
      const error = assertErrorResponse(response, 500, 'INTERNAL_ERROR');
      assert.equal(error.message, 'internal error');
      assert.ok(!response.text.includes('pkcs11'));
      const logged = await eventually(() => logs.records().find((r) => r['requestId'] === error.requestId && r['level'] === 'error' && r['msg'] === 'request failed'));
      assert.match(JSON.stringify(logged['err']), /vault\.pkcs11\.pin must be set/);
    });

    it('an unexpected Error is a 500 "internal error" with no trace of it, and is logged with its stack and the request id', async () => {
      const response = await send({ path: '/things/42/crash' });
      const error = assertErrorResponse(response, 500, 'INTERNAL_ERROR');
      assert.equal(error.message, 'internal error');
      assert.ok(!response.text.includes(DATABASE_PASSWORD));
      assert.ok(!response.text.includes('postgres'));

      const logged = await eventually(() => logs.records().find((r) => r['requestId'] === error.requestId && r['msg'] === 'request failed'));
      assert.equal(logged['level'], 'error');
      const err = logged['err'] as { message: string; stack: string };
      assert.match(err.message, /cannot connect to postgres/);
      assert.match(err.stack, /\n\s+at /);
    });

    it('a DTO with an unknown property is a 400 listing the field messages', async () => {
      const response = await send({
        method: 'POST',
        path: '/things',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'lamp', isAdmin: true }),
      });
      const error = assertErrorResponse(response, 400, 'VALIDATION_FAILED');
      assert.deepEqual(error.details, ['property isAdmin should not exist']);
    });

    it('a DTO failing its constraints lists every message', async () => {
      const response = await send({ method: 'POST', path: '/things', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 7 }) });
      const error = assertErrorResponse(response, 400, 'VALIDATION_FAILED');
      assert.deepEqual([...(error.details ?? [])].sort(), ['name must be a string', 'name must be shorter than or equal to 40 characters']);
    });

    it('a valid DTO reaches the handler as an instance of its class', async () => {
      const response = await send({ method: 'POST', path: '/things', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'lamp' }) });
      assert.equal(response.status, 201);
      assert.deepEqual(response.json(), { name: 'lamp', validated: true });
    });

    it('a body over http.bodyLimitBytes is a 413 JSON error', async () => {
      const response = await send({
        method: 'POST',
        path: '/things',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'x'.repeat(BODY_LIMIT * 4) }),
      });
      const error = assertErrorResponse(response, 413, 'PAYLOAD_TOO_LARGE');
      assert.equal(error.message, 'the request body is larger than the limit');
    });

    it('malformed JSON is a 400 that does not quote the body back', async () => {
      const response = await send({ method: 'POST', path: '/things', headers: { 'Content-Type': 'application/json' }, body: '{"name": "s3cr3t-fragment' });
      const error = assertErrorResponse(response, 400, 'BAD_REQUEST');
      assert.equal(error.message, 'the request body is not well-formed');
      assert.ok(!response.text.includes('s3cr3t'));
    });

    it('an unknown route is a 404 that does not echo the query string', async () => {
      const response = await send({ path: '/nowhere?token=abc123' });
      const error = assertErrorResponse(response, 404, 'NOT_FOUND');
      assert.equal(error.message, 'no route for GET /nowhere');
      assert.ok(!response.text.includes('abc123'));
    });
  });

  describe('security headers', () => {
    it('are set on every response, errors included', async () => {
      for (const path of ['/things/1', '/things/1/crash']) {
        const response = await send({ path });
        assert.match(String(response.headers['strict-transport-security']), /^max-age=31536000; includeSubDomains/);
        const csp = String(response.headers['content-security-policy']);
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.equal(response.headers['referrer-policy'], 'no-referrer');
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
        assert.equal(response.headers['x-frame-options'], 'DENY');
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.equal(response.headers['x-powered-by'], undefined);
        // no-store answers are never revalidated, so no ETag is computed for them.
        assert.equal(response.headers['etag'], undefined);
      }
    });
  });

  describe('request ids and logs', () => {
    it('accepts a well-formed incoming X-Request-Id and echoes it', async () => {
      const response = await send({ path: '/things/7', headers: { 'X-Request-Id': 'proxy-1234.abc:9_Z' } });
      assert.equal(response.headers['x-request-id'], 'proxy-1234.abc:9_Z');
    });

    it('replaces a malformed or oversized incoming X-Request-Id with a UUID', async () => {
      for (const incoming of ['two words', 'x'.repeat(129), 'id\u00e9', '<script>']) {
        const response = await send({ path: '/things/7', headers: { 'X-Request-Id': incoming } });
        const id = String(response.headers['x-request-id']);
        assert.notEqual(id, incoming);
        assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      }
    });

    it('logs one JSON line per request with the id, the path without its query string, status and duration', async () => {
      const response = await send({ path: '/things/123?token=query-secret&x=1', headers: { Authorization: 'Bearer header-secret', Cookie: 'session=cookie-secret' } });
      assert.equal(response.status, 200);
      const requestId = String(response.headers['x-request-id']);
      const line = await accessLineOf(requestId);

      assert.equal(line['level'], 'info');
      assert.equal(line['method'], 'GET');
      assert.equal(line['path'], '/things/123');
      assert.equal(line['status'], 200);
      assert.equal(typeof line['durationMs'], 'number');
      assert.equal(line['service'], 'realm-test');
      assert.equal(line['pid'], process.pid);
      assert.equal(typeof line['hostname'], 'string');
      assert.equal(logs.records().filter((r: LogRecord) => r['requestId'] === requestId && String(r['msg']).startsWith('request ')).length, 1);

      // The handler logged all request headers through req.log: bound to the id, credentials masked.
      const handlerLine = logs.records().find((r) => r['requestId'] === requestId && r['msg'] === 'reading a thing');
      assert.ok(handlerLine);
      const headers = handlerLine['headers'] as Record<string, string>;
      assert.equal(headers['authorization'], '****');
      assert.equal(headers['cookie'], '****');
      assert.equal(headers['host'], `127.0.0.1:${port}`);

      const everything = logs.raw();
      for (const secret of ['query-secret', 'header-secret', 'cookie-secret']) assert.ok(!everything.includes(secret), `${secret} is not logged`);
    });

    it('Nest itself logs through the same JSON logger', () => {
      assert.ok(logs.records().some((r) => r['context'] === 'RoutesResolver' || r['context'] === 'RouterExplorer' || r['context'] === 'NestApplication'));
    });
  });

  describe('metrics', () => {
    it('counts requests by route pattern, never by URL, in the Prometheus text format', async () => {
      await send({ path: '/things/123' });
      await send({ path: '/things/456?x=1' });
      await send({ path: '/definitely/not/a/route' });
      const response = await send({ path: '/metrics' });

      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      const samples = response.text.split('\n').filter((line) => line.startsWith('realm_http_requests_total{'));
      assert.ok(samples.some((line) => /^realm_http_requests_total\{method="GET",route="\/things\/:id",status="200"\} \d+$/.test(line)), response.text);
      assert.ok(samples.some((line) => line.includes('route="unmatched",status="404"')));
      assert.ok(!response.text.includes('/things/123') && !response.text.includes('/things/456') && !response.text.includes('/definitely'));
      assert.match(response.text, /^realm_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/things\/:id",status="200"\} \d+$/m);
      assert.match(response.text, /^realm_process_cpu_user_seconds_total \d/m);
      const unprefixed = response.text.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('realm_'));
      assert.deepEqual(unprefixed, []);
    });

    it('shows metrics other modules register', async () => {
      app.get(Metrics).counter('realm_things_created_total', 'Things created', ['kind']).inc({ kind: 'lamp' });
      const response = await send({ path: '/metrics' });
      assert.match(response.text, /^realm_things_created_total\{kind="lamp"\} 1$/m);
    });
  });

  describe('health', () => {
    const indicator = () => app.get(SwitchableIndicator);

    it('live is 200 ok', async () => {
      const response = await send({ path: '/health/live' });
      assert.equal(response.status, 200);
      assert.deepEqual(response.json(), { status: 'ok' });
    });

    it('ready is 200 when every indicator is ok', async () => {
      indicator().mode = 'ok';
      const response = await send({ path: '/health/ready' });
      assert.equal(response.status, 200);
      assert.deepEqual(response.json(), { status: 'ready', checks: { switchable: { ok: true, detail: 'all good' }, constant: { ok: true } } });
    });

    it('ready is 503 when an indicator is not ok', async () => {
      indicator().mode = 'fail';
      const response = await send({ path: '/health/ready' });
      assert.equal(response.status, 503);
      assert.deepEqual(response.json(), { status: 'not-ready', checks: { switchable: { ok: false, detail: 'token not present' }, constant: { ok: true } } });
    });

    it('ready is 503 with a generic detail when an indicator throws, and the error is logged', async () => {
      indicator().mode = 'throw';
      const response = await send({ path: '/health/ready' });
      assert.equal(response.status, 503);
      assert.deepEqual(response.json(), { status: 'not-ready', checks: { switchable: { ok: false, detail: 'check failed' }, constant: { ok: true } } });
      assert.ok(!response.text.includes(DATABASE_PASSWORD));
      const logged = await eventually(() => logs.records().find((r) => r['context'] === 'Health' && r['level'] === 'error'));
      assert.match(String(logged['msg']), /health check switchable failed: login failed/);
      assert.match(String(logged['stack']), /\n\s+at /);
    });

    it('ready is 503 when an indicator does not answer in time', async () => {
      indicator().mode = 'hang';
      const started = Date.now();
      const response = await send({ path: '/health/ready' });
      assert.ok(Date.now() - started < HEALTH_TIMEOUT_MS + 1_000);
      assert.equal(response.status, 503);
      assert.deepEqual(response.json(), { status: 'not-ready', checks: { switchable: { ok: false, detail: `no answer within ${HEALTH_TIMEOUT_MS} ms` }, constant: { ok: true } } });
      indicator().mode = 'ok';
    });
  });
});
