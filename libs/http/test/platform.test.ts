import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Module } from '@nestjs/common';
import { ConfigError, Secret } from '@realm/config';
import { RealmError } from '@realm/errors';
import { register as globalRegistry } from 'prom-client';
import { createHttpsApp, defaultHttpErrorStatus, HTTP_ERROR_STATUS, loadTlsMaterial, Metrics, MetricsModule, NestPinoLogger, redactSecrets } from '../src/index.js';
import { captureLogger, testConfig, withTempDir } from './support.js';

describe('logger', () => {
  it('writes JSON lines with the level label, service, pid and hostname', () => {
    const { logger, records } = captureLogger(testConfig({ dataDir: '/nonexistent' }));
    logger.info({ keyId: 'k1' }, 'key rotated');
    const [line] = records();
    assert.ok(line);
    assert.equal(line['level'], 'info');
    assert.equal(line['service'], 'realm-test');
    assert.equal(line['pid'], process.pid);
    assert.equal(typeof line['hostname'], 'string');
    assert.equal(line['keyId'], 'k1');
    assert.equal(line['msg'], 'key rotated');
  });

  it('honours log.level', () => {
    const { logger, records } = captureLogger(testConfig({ dataDir: '/nonexistent', logLevel: 'warn' }));
    logger.info('hidden');
    logger.warn('shown');
    assert.deepEqual(records().map((r) => r['msg']), ['shown']);
  });

  it('masks credential headers and secret fields at the top and at any depth', () => {
    const { logger, raw, records } = captureLogger(testConfig({ dataDir: '/nonexistent' }));
    logger.info({
      password: 'leak-p0',
      req: { headers: { authorization: 'Bearer leak-t1', cookie: 'leak-c1', 'x-api-key': 'leak-k1', 'set-cookie': ['leak-s1'], accept: 'application/json' } },
      err: { config: { headers: { Authorization: 'Bearer leak-t2' } } },
      vault: { pkcs11: { login: { pin: 'leak-1234' } } },
      a: { b: { c: { d: { token: 'leak-t3', secret: 'leak-s3', e: { f: { g: [{ Password: 'leak-p7' }] } } } } } },
    });
    assert.ok(!raw().includes('leak-'), raw());
    const [line] = records();
    assert.deepEqual((line?.['req'] as { headers: unknown }).headers, {
      authorization: '****',
      cookie: '****',
      'x-api-key': '****',
      'set-cookie': '****',
      accept: 'application/json',
    });
  });

  it('masks secrets held by logged errors and their causes, and keeps their message and stack', () => {
    const { logger, raw, records } = captureLogger(testConfig({ dataDir: '/nonexistent' }));
    const cause = Object.assign(new Error('upstream refused'), { config: { headers: { Authorization: 'Bearer leak-cause' } } });
    const error = Object.assign(new Error('request failed', { cause }), { response: { request: { headers: { cookie: 'leak-cookie' } } } });
    logger.error({ err: error }, 'call failed');
    assert.ok(!raw().includes('leak-'), raw());
    const logged = records()[0]?.['err'] as { message: string; stack: string; type: string; response: unknown };
    assert.match(logged.message, /^request failed/);
    assert.equal(logged.type, 'Error');
    assert.match(logged.stack, /request failed/);
    assert.deepEqual(logged.response, { request: { headers: { cookie: '****' } } });
    // The logged error itself is left as it was.
    assert.equal((error as unknown as { response: { request: { headers: { cookie: string } } } }).response.request.headers.cookie, 'leak-cookie');
  });

  it('leaves requests to their serializer: a child bound to a request logs its method and path only', async () => {
    const { logger, raw, records } = captureLogger(testConfig({ dataDir: '/nonexistent' }));
    const { IncomingMessage } = await import('node:http');
    const { Socket } = await import('node:net');
    const req = Object.assign(new IncomingMessage(new Socket()), { method: 'POST', url: '/kms/messages?x=1', headers: { authorization: 'Bearer leak-req' } });
    logger.child({ req }, { serializers: { req: (r: typeof req) => ({ method: r.method, path: r.url.split('?')[0] }) } }).info('seen');
    assert.ok(!raw().includes('leak-'), raw());
    assert.deepEqual(records()[0]?.['req'], { method: 'POST', path: '/kms/messages' });
  });

  it('redactSecrets copies only what it changes and survives cycles', () => {
    const clean = { method: 'POST', path: '/kms/messages', nested: { status: 200 } };
    assert.equal(redactSecrets(clean), clean);
    const cyclic: Record<string, unknown> = { token: 'leak', inner: {} };
    (cyclic['inner'] as Record<string, unknown>)['back'] = cyclic;
    const redacted = redactSecrets(cyclic);
    assert.notEqual(redacted, cyclic);
    assert.equal(redacted['token'], '****');
    assert.equal(cyclic['token'], 'leak');
  });

  it('masks secrets bound to child loggers, and Secret values print as ****', () => {
    const { logger, raw } = captureLogger(testConfig({ dataDir: '/nonexistent' }));
    logger.child({ token: 'child-token' }).info({ databaseUrl: Secret.withDisplay('postgres://u:pw@h/db', 'postgres://u:****@h/db') }, 'connecting');
    assert.ok(!raw().includes('child-token'));
    assert.ok(!raw().includes(':pw@'));
  });
});

describe('NestPinoLogger', () => {
  it('maps Nest levels and separates the context and the stack', () => {
    const { logger, records } = captureLogger(testConfig({ dataDir: '/nonexistent', logLevel: 'trace' }));
    const nest = new NestPinoLogger(logger);
    const stack = 'Error: boom\n    at somewhere (file.js:1:1)';
    nest.log('started', 'NestApplication');
    nest.error('failed', stack, 'ExceptionsHandler');
    nest.warn({ event: 'slow' }, 'Scheduler');
    nest.verbose('detail');
    nest.error(new Error('thrown'));
    const [started, failed, warned, verbose, thrown] = records();
    assert.deepEqual([started?.['level'], started?.['context'], started?.['msg']], ['info', 'NestApplication', 'started']);
    assert.deepEqual([failed?.['level'], failed?.['context'], failed?.['stack']], ['error', 'ExceptionsHandler', stack]);
    assert.deepEqual([warned?.['level'], warned?.['event'], warned?.['context']], ['warn', 'slow', 'Scheduler']);
    assert.equal(verbose?.['level'], 'trace');
    assert.equal(thrown?.['msg'], 'thrown');
    assert.match(String((thrown?.['err'] as { stack: string }).stack), /\n\s+at /);
  });
});

describe('Metrics', () => {
  it('keeps its metrics out of the global registry', () => {
    const metrics = new Metrics();
    metrics.counter('realm_isolated_total', 'isolated');
    assert.equal(globalRegistry.getSingleMetric('realm_isolated_total'), undefined);
    assert.ok(metrics.registry.getSingleMetric('realm_isolated_total'));
  });

  it('returns the same metric for the same name, kind and labels', () => {
    const metrics = new Metrics();
    const first = metrics.counter('realm_unwraps_total', 'KEK unwraps', ['result']);
    assert.equal(metrics.counter('realm_unwraps_total', 'KEK unwraps', ['result']), first);
    const gauge = metrics.gauge('realm_kek_cache_entries', 'KEKs in memory');
    assert.equal(metrics.gauge('realm_kek_cache_entries', 'KEKs in memory'), gauge);
    const histogram = metrics.histogram('realm_hsm_call_seconds', 'HSM call latency', ['operation'], [0.001, 0.01, 0.1]);
    assert.equal(metrics.histogram('realm_hsm_call_seconds', 'HSM call latency', ['operation']), histogram);
  });

  it('refuses a name without the realm_ prefix, or one registered with another kind or labels', () => {
    const metrics = new Metrics();
    assert.throws(() => metrics.counter('unwraps_total', 'x'), /must start with realm_/);
    assert.throws(() => metrics.counter('realm_bad-name', 'x'), /must start with realm_/);
    metrics.counter('realm_things_total', 'x', ['kind']);
    assert.throws(() => metrics.gauge('realm_things_total', 'x', ['kind']), /already registered as a counter/);
    assert.throws(() => metrics.counter('realm_things_total', 'x', ['other']), /already registered as a counter with labels \[kind\]/);
  });
});

describe('defaultHttpErrorStatus', () => {
  it('answers configuration errors and unknown codes with 500', () => {
    assert.equal(defaultHttpErrorStatus(new ConfigError('CONFIG_INVALID_VALUE', 'x')), 500);
    assert.equal(defaultHttpErrorStatus(new ConfigError('CONFIG_FILE_UNREADABLE', 'x')), 500);
    assert.equal(defaultHttpErrorStatus(new RealmError('SOMETHING_ELSE', 'x')), 500);
  });
});

describe('createHttpsApp', () => {
  it('refuses to start without the HTTP_ERROR_STATUS mapping, naming it', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const { logger } = captureLogger(config);
      const tls = await loadTlsMaterial(config, logger);
      @Module({ imports: [MetricsModule] })
      class WithoutMapping {}
      await assert.rejects(createHttpsApp(WithoutMapping, config, logger, tls), /needs HTTP_ERROR_STATUS/);
    }));

  it('trusts exactly one proxy hop when http.trustProxy is set, none otherwise', () =>
    withTempDir(async (dataDir) => {
      const base = testConfig({ dataDir });
      const { logger } = captureLogger(base);
      const tls = await loadTlsMaterial(base, logger);
      @Module({ imports: [MetricsModule], providers: [{ provide: HTTP_ERROR_STATUS, useValue: defaultHttpErrorStatus }] })
      class Minimal {}
      for (const [trustProxy, expected] of [[true, 1], [false, false]] as const) {
        const config = { ...base, http: { ...base.http, trustProxy } };
        const app = await createHttpsApp(Minimal, config, logger, tls);
        try {
          const express = app.getHttpAdapter().getInstance() as { get(setting: string): unknown };
          assert.equal(express.get('trust proxy'), expected);
          assert.equal(express.get('x-powered-by'), false);
        } finally {
          await app.close();
        }
      }
    }));
});
