import { createHash } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { type Identity, IdentityError, type IdentityErrorCode } from '@realm/identity';
import { KmsError } from '../kms.error.js';
import type { AuthenticatedPrincipal, KmsAuthenticator } from '../protocol/kms-pipeline.js';
import type { KmsCredential } from '../protocol/kms-request.js';

/** How far a proof's iat may be from the KMS clock. */
const PROOF_MAX_SKEW_SECONDS = 300;

/**
 * Verifies KMS credentials with the appliance's identity services, on every request:
 *
 * - `bearer`: an access token this appliance issued (audience `kms`); the principal is re-read, so
 *   a disabled one is refused at once. Tokens of any other issuer, the core's included, fail.
 * - `jwk` + `x5c`: a service key certified by the service CA. A certificate is public, so at the
 *   handshake the client must also prove it holds the private key: `credential.proof`, a JWS
 *   (ES256 or PS256) by that key over `{ aud: <kms cluster>, requestId, ephemeral: <RFC 7638
 *   thumbprint of the handshake's ephemeral key>, iat }`. Later requests travel on the channel
 *   that handshake opened, which only the prover can use.
 */
export class IdentityAuthenticator implements KmsAuthenticator {
  constructor(
    private readonly identity: Pick<Identity, 'tokens' | 'serviceCa'>,
    private readonly cluster: string,
    private readonly clock: () => number = Date.now,
  ) {}

  async authenticate(credential: KmsCredential, context: { readonly requestId: string; readonly handshakeJwk?: unknown }): Promise<AuthenticatedPrincipal> {
    try {
      if (credential.bearer !== undefined) {
        const { principal } = await this.identity.tokens.verifyAccessToken(credential.bearer, { audience: 'kms' });
        return { principalId: principal.id, kind: principal.kind, roles: principal.roles };
      }
      const { principal } = await this.identity.serviceCa!.verifyServiceCredential(credential.jwk);
      if (context.handshakeJwk !== undefined) await this.verifyProof(credential, context.requestId, context.handshakeJwk);
      return { principalId: principal.id, kind: principal.kind, roles: principal.roles };
    } catch (error) {
      if (error instanceof IdentityError) throw new KmsError('KMS_UNAUTHENTICATED', reasonOf(error.code), { cause: error });
      throw error;
    }
  }

  private async verifyProof(credential: KmsCredential, requestId: string, handshakeJwk: unknown): Promise<void> {
    if (credential.proof === undefined) throw new KmsError('KMS_UNAUTHENTICATED', 'a jwk credential needs a proof of possession (credential.proof) at the handshake');
    let claims: Record<string, unknown>;
    try {
      const { x5c: _chain, ...publicJwk } = credential.jwk as Record<string, unknown>;
      const key = await importJWK(publicJwk, publicJwk.kty === 'EC' ? 'ES256' : 'PS256');
      const { payload } = await compactVerify(credential.proof, key, { algorithms: ['ES256', 'PS256'] });
      claims = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new KmsError('KMS_UNAUTHENTICATED', 'the proof of possession does not verify with the credential key');
    }
    const { crv, kty, x, y } = (handshakeJwk ?? {}) as Record<string, unknown>;
    const thumbprint = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
    const now = Math.floor(this.clock() / 1000);
    if (claims.aud !== this.cluster || claims.requestId !== requestId || claims.ephemeral !== thumbprint || typeof claims.iat !== 'number' || Math.abs(now - claims.iat) > PROOF_MAX_SKEW_SECONDS) {
      throw new KmsError('KMS_UNAUTHENTICATED', 'the proof of possession is for another request, key or time');
    }
  }
}

/** What a client is told about a refused credential: enough to act on, nothing about the token. */
function reasonOf(code: IdentityErrorCode): string {
  switch (code) {
    case 'IDENTITY_TOKEN_EXPIRED':
      return 'the access token expired';
    case 'IDENTITY_TOKEN_NOT_YET_VALID':
      return 'the access token is not valid yet';
    case 'IDENTITY_PRINCIPAL_DISABLED':
    case 'IDENTITY_PRINCIPAL_DELETED':
    case 'IDENTITY_TOKEN_REVOKED':
      return 'the principal is disabled or its credentials were revoked';
    default:
      // Invalid, wrong audience or issuer, unknown principal, refused certificate, or a code of
      // another identity flow: one answer that says nothing about the token.
      return 'the credential was refused';
  }
}
