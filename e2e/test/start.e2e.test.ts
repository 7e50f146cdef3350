/**
 * `npm start` end to end: its entry (apps/dev-stack/dist/src/main.js, what scripts/start.sh runs
 * after the build) brings up the appliance, the core simulator and the development IdP; every URL
 * it prints answers over HTTPS trusting only the CA file it names for that origin; SIGINT (Ctrl-C)
 * stops every child and the stack exits 0, and the ports are free again. A second start on the same
 * data directory reuses it: the same demo OAuth client, registered once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { describe, it } from 'node:test';
import { httpsGet, makeTempDir, onLines, repoRoot } from '@realm/testing';

const START_MAIN = join(repoRoot, 'apps/dev-stack/dist/src/main.js');

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | string | null>;
}

/** Spawns the stack like `npm start` and resolves once it printed its summary (or rejects if it exits first). */
function start(cwd: string, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [START_MAIN], { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | string | null>((done) => child.on('exit', (code, signal) => done(code ?? signal)));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve, reject) => {
    onLines(child.stdout, (line) => {
      output += `${line}\n`;
      if (line.startsWith('Ctrl-C stops everything')) resolve({ child, output: () => output, exited });
    });
    void exited.then((code) => reject(new Error(`the stack exited with ${code} before it was up:\n${output}`)));
  });
}

/** The URLs of the summary, each with the CA file named on its line or, failing that, on another line of the same origin. */
function printedUrls(output: string, cwd: string): { url: string; ca: Buffer }[] {
  const summary = output.slice(output.indexOf('development stack is up'));
  const lines = summary.split('\n').filter((l) => /https:\/\//.test(l));
  const caByOrigin = new Map<string, string>();
  const urls = lines.map((line) => {
    const url = /(https:\/\/\S+)/.exec(line)![1]!;
    const ca = /CA: (\S+)/.exec(line)?.[1];
    if (ca) caByOrigin.set(new URL(url).origin, isAbsolute(ca) ? ca : join(cwd, ca));
    return url;
  });
  return urls.map((url) => {
    const ca = caByOrigin.get(new URL(url).origin);
    assert.ok(ca, `the summary names a CA for ${url}`);
    return { url, ca: readFileSync(ca) };
  });
}

async function stop(started: Started): Promise<number | string | null> {
  started.child.kill('SIGINT');
  // A hang guard, not a timing assertion: a stack that does not stop fails here instead of hanging the suite.
  const guard = setTimeout(() => started.child.kill('SIGKILL'), 30_000);
  const code = await started.exited;
  clearTimeout(guard);
  return code;
}

describe('npm start', () => {
  it('starts the appliance, the core simulator and the dev IdP; every printed URL answers; Ctrl-C stops all of it with 0; a restart reuses the data', async () => {
    const cwd = makeTempDir('realm-start-e2e-');
    // Free ports everywhere, so the test runs next to a developer's own `npm start`.
    const env = { REALM_DATA_DIR: join(cwd, 'data'), REALM_HTTP_PORT: '0', CORE_SIM_PORT: '0', DEV_IDP_PORT: '0' };

    const first = await start(cwd, env);
    const urls = printedUrls(first.output(), cwd);
    assert.equal(urls.length, 4, first.output());
    for (const { url, ca } of urls) {
      const answer = await httpsGet(url, ca);
      assert.ok(answer.status >= 200 && answer.status < 400, `${url} answers (${answer.status})`);
    }
    const [ready, signIn, coreHealth, idpHome] = urls;
    assert.match(ready!.url, /\/health\/ready$/);
    assert.equal((await httpsGet(ready!.url, ready!.ca)).status, 200);
    const health = JSON.parse((await httpsGet(coreHealth!.url, coreHealth!.ca)).body) as { status: string; applianceLinks: number };
    assert.deepEqual(health, { ...health, status: 'ok', applianceLinks: 1 }, 'the appliance dialled out to the core');
    assert.match((await httpsGet(idpHome!.url, idpHome!.ca)).body, /alice[\s\S]*bob[\s\S]*carol/);
    // Sign-in starts SAML at the dev IdP, whose login page shows.
    const toIdp = await httpsGet(signIn!.url, signIn!.ca);
    assert.equal(toIdp.status, 303);
    assert.ok(String(toIdp.headers.location).startsWith(`${new URL(idpHome!.url).origin}/sso?SAMLRequest=`), String(toIdp.headers.location));
    const loginPage = await httpsGet(String(toIdp.headers.location), idpHome!.ca);
    assert.equal(loginPage.status, 200, loginPage.body);
    assert.match(loginPage.body, /name="username"/);
    assert.match(first.output(), /demo logins +alice \(user\), bob \(user\), carol \(user\), admin \(realm admin\), compliance \(compliance officer\)/);
    const clientId = /OAuth client +(\S+)/.exec(first.output())![1]!;

    assert.equal(await stop(first), 0, first.output());
    for (const name of ['appliance', 'core-sim', 'dev-idp']) assert.match(first.output(), new RegExp(`${name} exited with 0`));
    for (const { url, ca } of urls) await assert.rejects(httpsGet(url, ca), `${url} is closed after the stop`);

    const second = await start(cwd, env);
    assert.equal(/OAuth client +(\S+)/.exec(second.output())![1], clientId, 'the demo client registered at the first start is reused');
    const secondUrls = printedUrls(second.output(), cwd);
    assert.equal((await httpsGet(secondUrls[0]!.url, secondUrls[0]!.ca)).status, 200);
    assert.equal(await stop(second), 0, second.output());
  });
});
