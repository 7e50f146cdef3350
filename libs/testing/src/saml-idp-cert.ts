import forge from 'node-forge';

/** An RSA key pair and a self-signed certificate for the test IdP (signing or TLS). */
export interface TestKeyPair {
  readonly privateKeyPem: string;
  readonly certificatePem: string;
  /** The certificate DER in base64, without PEM armour (metadata `ds:X509Certificate`). */
  readonly certificateBase64: string;
}

/**
 * RSA-2048 and a self-signed X.509 v3 certificate made with node-forge (an implementation
 * independent of the appliance's), valid from yesterday for a year. forge uses node's native key
 * generation when it is available, so this takes milliseconds. `dnsNames`/`ipAddresses` make it
 * usable as a TLS server certificate.
 */
export function makeTestKeyPair(commonName: string, san: { dnsNames?: readonly string[]; ipAddresses?: readonly string[] } = {}): TestKeyPair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 86_400_000);
  cert.validity.notAfter = new Date(now + 365 * 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const altNames = [...(san.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(san.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }, { name: 'extKeyUsage', serverAuth: true }] : []),
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  return { privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey), certificatePem, certificateBase64: forge.util.encode64(der) };
}
