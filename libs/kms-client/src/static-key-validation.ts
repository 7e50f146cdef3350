import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { KmsClientError } from './kms-client.error.js';

export interface StaticKeyValidationOptions {
  /** PEM certificates of the CA roots the client trusts for KMS identities. Empty: nothing is trusted. */
  readonly trustedRoots: readonly string[];
  /** The KMS domain the client expects (from the user's identity), e.g. `kms.realm.test`. */
  readonly expectedDomain?: string;
  readonly now?: Date;
}

function untrusted(reason: string): KmsClientError {
  return new KmsClientError('KMS_CLIENT_UNTRUSTED_KMS', `the KMS static key is not trusted: ${reason}`);
}

/**
 * Validates a KMS static public key as Webex clients do (kms-certificate-validation): an RSA JWK
 * whose kid is a kms:// URI, with an x5c chain (RFC 7517 §4.7) that chains to a configured root,
 * every certificate within its validity, whose leaf names the kid's host in its subjectAltName
 * (RFC 6125) and carries the same modulus and exponent. Fails closed: no roots, no trust.
 */
export function validateStaticKey(jwk: unknown, options: StaticKeyValidationOptions): { kid: string; domain: string; publicKey: KeyObject } {
  if (options.trustedRoots.length === 0) throw untrusted('no trusted roots are configured');
  if (typeof jwk !== 'object' || jwk === null) throw untrusted('it is not a JWK');
  const { kty, kid, n, e, x5c } = jwk as Record<string, unknown>;
  if (kty !== 'RSA' || typeof n !== 'string' || typeof e !== 'string') throw untrusted('it is not an RSA JWK');
  if (typeof kid !== 'string' || !kid.startsWith('kms://')) throw untrusted('its kid is not a kms:// URI');
  const domain = kid.slice('kms://'.length).split('/', 1)[0]!.toLowerCase();
  if (options.expectedDomain !== undefined && domain !== options.expectedDomain.toLowerCase()) throw untrusted(`it belongs to ${domain}, not ${options.expectedDomain}`);
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string')) throw untrusted('it has no x5c certificate chain');
  let chain: X509Certificate[];
  try {
    chain = x5c.map((c: string) => new X509Certificate(Buffer.from(c, 'base64')));
  } catch {
    throw untrusted('its x5c chain does not parse');
  }
  let roots: X509Certificate[];
  try {
    roots = options.trustedRoots.map((pem) => new X509Certificate(pem));
  } catch {
    throw untrusted('a configured trusted root does not parse');
  }
  const now = options.now ?? new Date();
  for (const [i, cert] of chain.entries()) {
    if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) throw untrusted(`certificate ${i} of the chain is not valid now`);
    const issuer = chain[i + 1];
    if (issuer) {
      if (cert.issuer !== issuer.subject || !cert.verify(issuer.publicKey) || !issuer.ca) throw untrusted(`certificate ${i} is not issued by certificate ${i + 1}`);
    }
  }
  const top = chain[chain.length - 1]!;
  const anchored = roots.some((root) => root.fingerprint256 === top.fingerprint256 || (top.issuer === root.subject && root.ca && top.verify(root.publicKey) && new Date(root.validTo) >= now));
  if (!anchored) throw untrusted('its chain does not lead to a trusted root');
  const leaf = chain[0]!;
  if (leaf.checkHost(domain, { subject: 'never' }) === undefined) throw untrusted(`its certificate does not name ${domain} in subjectAltName`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' });
  } catch {
    throw untrusted('its modulus or exponent is invalid');
  }
  if ((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw untrusted('its modulus is shorter than 2048 bits');
  if (!leaf.publicKey.equals(publicKey)) throw untrusted('its certificate carries another public key');
  return { kid, domain, publicKey };
}
