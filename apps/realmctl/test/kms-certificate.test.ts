/**
 * The production path of the KMS certificate: `realmctl kms csr` (signed inside the HSM), an
 * enterprise CA (OpenSSL here) signs it, `realmctl kms import-certificate` installs the chain, and
 * clients that trust only the enterprise CA accept the KMS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KmsClientError, validateStaticKey } from '@realm/kms-client';
import { createSoftHsmToken, makeTempDir, realmctl, startAppliance, testDatabases } from '@realm/testing';

const token = createSoftHsmToken('kms-certificate');

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('KMS certificate from an enterprise CA', () => {
  it('writes a CSR signed in the HSM, imports the signed chain, and refuses certificates for another key or domain', async () => {
    const database = (await testDatabases()[0]!.create()).env;
    const env = { ...database, ...token.env };
    const dir = makeTempDir('realm-enterprise-ca-');
    assert.equal((await realmctl(['init'], env)).code, 0);

    const csr = await realmctl(['kms', 'csr', '--out', join(dir, 'kms.csr')], env);
    assert.equal(csr.code, 0, csr.stderr);
    // The enterprise CA, and its answer.
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Enterprise Root CA', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign'], dir);
    openssl(['req', '-in', 'kms.csr', '-verify', '-noout'], dir);
    openssl(['x509', '-req', '-in', 'kms.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'kms.pem', '-days', '30', '-copy_extensions', 'copy'], dir);
    writeFileSync(join(dir, 'chain.pem'), readFileSync(join(dir, 'kms.pem'), 'utf8') + readFileSync(join(dir, 'ca.pem'), 'utf8'));

    // Refused: a certificate for another key (the CA's own), and one naming another domain.
    const wrongKey = await realmctl(['kms', 'import-certificate', join(dir, 'ca.pem')], env);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr.trim(), /^realmctl: KMS_BAD_REQUEST: the certificate does not carry the KMS static public key$/);
    // Signed without copying the request's extensions: no subjectAltName naming the KMS domain.
    openssl(['x509', '-req', '-in', 'kms.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'other.pem', '-days', '30'], dir);
    const otherDomain = await realmctl(['kms', 'import-certificate', join(dir, 'other.pem')], env);
    assert.equal(otherDomain.code, 1);
    assert.match(otherDomain.stderr, /does not name kms\.realm\.test \(kms\.domain\)/);

    const imported = await realmctl(['kms', 'import-certificate', join(dir, 'chain.pem')], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /imported a chain of 2 certificates/);

    const app = await startAppliance(env);
    try {
      const discovery = JSON.parse((await app.get('/kms/discovery')).body) as { rsaPublicKey: unknown };
      const enterpriseRoot = readFileSync(join(dir, 'ca.pem'), 'utf8');
      assert.equal(validateStaticKey(discovery.rsaPublicKey, { trustedRoots: [enterpriseRoot], expectedDomain: 'kms.realm.test' }).domain, 'kms.realm.test');
      const applianceCa = (await realmctl(['ca', 'certificate'], env)).stdout;
      assert.throws(() => validateStaticKey(discovery.rsaPublicKey, { trustedRoots: [applianceCa] }), (error: unknown) => error instanceof KmsClientError && error.code === 'KMS_CLIENT_UNTRUSTED_KMS');
    } finally {
      await app.stop();
    }
  });
});
