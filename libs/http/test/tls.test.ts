import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError } from '@realm/config';
import { loadTlsMaterial } from '../src/index.js';
import { createSelfSignedCertificate } from '../src/tls/self-signed-cert.js';
import { captureLogger, httpsRequest, testConfig, withTempDir } from './support.js';

describe('development certificate', () => {
  it('is created with a private key file of mode 0600 in a 0700 directory, and warns with its fingerprint', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const { logger, records, raw } = captureLogger(config);
      const tls = await loadTlsMaterial(config, logger);

      assert.equal(tls.selfSigned, true);
      assert.equal((await stat(join(dataDir, 'tls'))).mode & 0o777, 0o700);
      assert.equal((await stat(join(dataDir, 'tls', 'dev-key.pem'))).mode & 0o777, 0o600);
      assert.equal(await readFile(join(dataDir, 'tls', 'dev-key.pem'), 'utf8'), tls.key);
      assert.equal(await readFile(join(dataDir, 'tls', 'dev-cert.pem'), 'utf8'), tls.cert);

      const warning = records().find((r) => r['level'] === 'warn' && r['fingerprintSha256'] === tls.fingerprintSha256);
      assert.ok(warning, 'a warning names the fingerprint');
      assert.match(String(warning['msg']), /development certificate/);
      assert.ok(!raw().includes('PRIVATE KEY'), 'the key is never logged');
    }));

  it('is a SHA-256 signed, serverAuth-only end-entity certificate naming localhost, this host and the loopback addresses', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const tls = await loadTlsMaterial(config, captureLogger(config).logger);
      const cert = new X509Certificate(tls.cert);

      assert.equal(cert.subject, 'CN=security realm development certificate');
      assert.equal(cert.issuer, cert.subject);
      assert.equal(cert.ca, false);
      // Signed by its own key. (checkIssued would say no: without keyCertSign it may not issue.)
      assert.ok(cert.verify(cert.publicKey), 'self-signed');
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
      assert.equal(cert.fingerprint256, tls.fingerprintSha256);
      const sans = cert.subjectAltName?.split(', ') ?? [];
      assert.ok(sans.includes('DNS:localhost'));
      assert.ok(sans.includes(`DNS:${hostname().toLowerCase()}`) || !/^[a-z0-9.-]+$/i.test(hostname()));
      assert.ok(sans.includes('IP Address:127.0.0.1'));
      assert.ok(sans.includes('IP Address:0:0:0:0:0:0:0:1'));
      assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
      assert.match(cert.serialNumber, /^[0-7][0-9A-F]{31}$/i, 'a positive 128-bit serial');
      const lifetimeDays = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
      assert.equal(Math.round(lifetimeDays), 365);
    }));

  it('is reused on the next start', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const first = await loadTlsMaterial(config, captureLogger(config).logger);
      const second = await loadTlsMaterial(config, captureLogger(config).logger);
      assert.equal(second.fingerprintSha256, first.fingerprintSha256);
      assert.equal(second.key, first.key);
    }));

  it('is replaced when it expires within 7 days', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const first = await loadTlsMaterial(config, captureLogger(config).logger);
      const publicKeyPem = new X509Certificate(first.cert).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const expiringSoon = createSelfSignedCertificate({
        privateKeyPem: first.key,
        publicKeyPem,
        commonName: 'expiring',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
        notBefore: new Date(Date.now() - 300 * 86_400_000),
        notAfter: new Date(Date.now() + 3 * 86_400_000),
      });
      await writeFile(join(dataDir, 'tls', 'dev-cert.pem'), expiringSoon);

      const renewed = await loadTlsMaterial(config, captureLogger(config).logger);
      assert.notEqual(renewed.fingerprintSha256, new X509Certificate(expiringSoon).fingerprint256);
      assert.notEqual(renewed.key, first.key, 'a new key comes with the new certificate');
    }));

  it('is replaced when its key file became readable by others', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const first = await loadTlsMaterial(config, captureLogger(config).logger);
      await chmod(join(dataDir, 'tls', 'dev-key.pem'), 0o644);
      const renewed = await loadTlsMaterial(config, captureLogger(config).logger);
      assert.notEqual(renewed.fingerprintSha256, first.fingerprintSha256);
      assert.equal((await stat(join(dataDir, 'tls', 'dev-key.pem'))).mode & 0o777, 0o600);
    }));

  it('serves a TLS handshake that a client verifying against it accepts', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const tls = await loadTlsMaterial(config, captureLogger(config).logger);
      const server = createServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const address = server.address();
        assert.ok(address !== null && typeof address === 'object');
        const response = await httpsRequest(address.port, tls.cert, { path: '/' });
        assert.equal(response.text, 'ok');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }));

  it('prints without its key', () =>
    withTempDir(async (dataDir) => {
      const config = testConfig({ dataDir });
      const tls = await loadTlsMaterial(config, captureLogger(config).logger);
      assert.ok(!JSON.stringify(tls).includes('PRIVATE KEY'));
      assert.ok(!inspect(tls).includes('PRIVATE KEY'));
      assert.ok(inspect(tls).includes(tls.fingerprintSha256));
    }));

  it('is refused outside development, failing closed', () =>
    withTempDir(async (dataDir) => {
      // A configuration the schema itself refuses (production without certificate files): the TLS layer must fail closed on its own too.
      const config = testConfig({ dataDir, env: 'production' });
      await assert.rejects(loadTlsMaterial(config, captureLogger(config).logger), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG_MISSING_VALUE');
        assert.equal(error.setting, 'http.tls.certFile');
        return true;
      });
    }));
});

describe('configured certificate', () => {
  /** Two development certificates, so that one's key does not match the other's certificate. */
  async function twoPairs(dataDir: string) {
    const a = testConfig({ dataDir: join(dataDir, 'a') });
    const b = testConfig({ dataDir: join(dataDir, 'b') });
    const tlsA = await loadTlsMaterial(a, captureLogger(a).logger);
    await loadTlsMaterial(b, captureLogger(b).logger);
    return {
      tlsA,
      certA: join(dataDir, 'a', 'tls', 'dev-cert.pem'),
      keyA: join(dataDir, 'a', 'tls', 'dev-key.pem'),
      keyB: join(dataDir, 'b', 'tls', 'dev-key.pem'),
    };
  }

  it('is loaded when its key matches', () =>
    withTempDir(async (dataDir) => {
      const { tlsA, certA, keyA } = await twoPairs(dataDir);
      const config = testConfig({ dataDir, env: 'production', tls: { certFile: certA, keyFile: keyA } });
      const tls = await loadTlsMaterial(config, captureLogger(config).logger);
      assert.equal(tls.selfSigned, false);
      assert.equal(tls.fingerprintSha256, tlsA.fingerprintSha256);
      assert.equal(tls.key, tlsA.key);
    }));

  it('with a key of another certificate is one ConfigError line naming both settings, without key material', () =>
    withTempDir(async (dataDir) => {
      const { certA, keyB } = await twoPairs(dataDir);
      const config = testConfig({ dataDir, env: 'production', tls: { certFile: certA, keyFile: keyB } });
      await assert.rejects(loadTlsMaterial(config, captureLogger(config).logger), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG_CONFLICT');
        const line = error.toLine();
        assert.ok(!line.includes('\n'));
        assert.ok(line.includes('http.tls.keyFile') && line.includes('http.tls.certFile'));
        assert.ok(line.includes(keyB) && line.includes(certA));
        assert.ok(!line.includes('PRIVATE KEY') && !line.includes('BEGIN'));
        return true;
      });
    }));

  it('with a key of another type is refused the same way', () =>
    withTempDir(async (dataDir) => {
      const { certA } = await twoPairs(dataDir);
      const ecKeyFile = join(dataDir, 'ec-key.pem');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeFile(ecKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      const config = testConfig({ dataDir, env: 'production', tls: { certFile: certA, keyFile: ecKeyFile } });
      await assert.rejects(loadTlsMaterial(config, captureLogger(config).logger), { name: 'ConfigError', code: 'CONFIG_CONFLICT' });
    }));

  it('that cannot be read is a ConfigError naming the setting and the path', () =>
    withTempDir(async (dataDir) => {
      const { certA } = await twoPairs(dataDir);
      const missingKey = join(dataDir, 'no-such-key.pem');
      const config = testConfig({ dataDir, env: 'production', tls: { certFile: certA, keyFile: missingKey } });
      await assert.rejects(loadTlsMaterial(config, captureLogger(config).logger), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG_FILE_UNREADABLE');
        assert.equal(error.setting, 'http.tls.keyFile');
        assert.equal(error.message, `cannot read http.tls.keyFile (REALM_HTTP_TLS_KEY_FILE) ${missingKey}: ENOENT`);
        return true;
      });

      // A directory where the certificate should be: unreadable as a file.
      const certConfig = testConfig({ dataDir, env: 'production', tls: { certFile: dataDir, keyFile: missingKey } });
      await assert.rejects(loadTlsMaterial(certConfig, captureLogger(certConfig).logger), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG_FILE_UNREADABLE');
        assert.equal(error.setting, 'http.tls.certFile');
        assert.equal(error.message, `cannot read http.tls.certFile (REALM_HTTP_TLS_CERT_FILE) ${dataDir}: EISDIR`);
        return true;
      });
    }));

  it('that is not PEM is a ConfigError naming the setting', () =>
    withTempDir(async (dataDir) => {
      const { keyA } = await twoPairs(dataDir);
      const notPem = join(dataDir, 'cert.txt');
      await writeFile(notPem, 'not a certificate');
      const config = testConfig({ dataDir, env: 'production', tls: { certFile: notPem, keyFile: keyA } });
      await assert.rejects(loadTlsMaterial(config, captureLogger(config).logger), { code: 'CONFIG_INVALID_VALUE', setting: 'http.tls.certFile' });
    }));
});
