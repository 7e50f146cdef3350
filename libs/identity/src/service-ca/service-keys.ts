import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** JWK members that only private (or secret) keys have (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/**
 * The public key a JWK describes, when it is one a service may use: EC P-256 or RSA of 2048 to
 * 8192 bits. Returns the reason otherwise. A JWK carrying private members is refused outright: a
 * private key has no business travelling in a request.
 */
export function serviceKeyFromJwk(jwk: unknown): KeyObject | string {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'the JWK is not a JSON object';
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_JWK_MEMBERS.some((name) => name in members)) return 'the JWK carries private key members';
  let keyMembers: JsonWebKey;
  if (members['kty'] === 'EC' && typeof members['crv'] === 'string' && typeof members['x'] === 'string' && typeof members['y'] === 'string') {
    keyMembers = { kty: 'EC', crv: members['crv'], x: members['x'], y: members['y'] };
  } else if (members['kty'] === 'RSA' && typeof members['n'] === 'string' && typeof members['e'] === 'string') {
    keyMembers = { kty: 'RSA', n: members['n'], e: members['e'] };
  } else {
    return 'the JWK is neither an EC nor an RSA public key';
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: keyMembers, format: 'jwk' });
  } catch {
    return 'the JWK does not describe a valid public key';
  }
  return servicePublicKeyProblem(key) ?? key;
}

/** Why `key` may not be a service key, or undefined when it may. */
export function servicePublicKeyProblem(key: KeyObject): string | undefined {
  if (key.type !== 'public') return 'not a public key';
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return details.namedCurve === 'prime256v1' ? undefined : 'an EC key must be on curve P-256';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    return bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS ? undefined : `an RSA key must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`;
  }
  return 'the key must be EC P-256 or RSA';
}

/** SubjectPublicKeyInfo DER: the one form in which two public keys are compared. */
export function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}
