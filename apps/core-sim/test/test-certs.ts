import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { issueCertificate } from '../src/tls/x509-cert.js';

/**
 * Test PKI: an appliance CA the simulator trusts and a client certificate it signed, as the
 * appliance's service CA would issue; and a second, untrusted CA with its own client certificate.
 * Made once per test file with node:crypto (P-256, fast).
 */

export interface TestCa {
  readonly certPem: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly commonName: string;
}

export interface ClientCert {
  readonly certPem: string;
  readonly keyPem: string;
}

export function makeCa(commonName: string): TestCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certPem = issueCertificate({ commonName, publicKey, signingKey: privateKey, ca: true });
  return { certPem, privateKey, publicKey, commonName };
}

export function issueClientCert(ca: TestCa, commonName: string, uri = `urn:realm:service:${commonName}`): ClientCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certPem = issueCertificate({
    commonName,
    publicKey,
    issuer: { commonName: ca.commonName, publicKey: ca.publicKey },
    signingKey: ca.privateKey,
    clientAuth: true,
    uris: [uri],
  });
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

export interface TestPki {
  readonly applianceCa: TestCa;
  readonly applianceClient: ClientCert;
  readonly otherCa: TestCa;
  readonly untrustedClient: ClientCert;
}

export function makeTestPki(): TestPki {
  const applianceCa = makeCa('Test appliance service CA');
  const otherCa = makeCa('Some other CA');
  return {
    applianceCa,
    applianceClient: issueClientCert(applianceCa, 'core-link-node'),
    otherCa,
    untrustedClient: issueClientCert(otherCa, 'core-link-node'),
  };
}
