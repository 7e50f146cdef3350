/**
 * Access tokens on every database, with a real vault and audit log: issue and verify; every
 * refusal (expiry, audience, issuer, unknown key, alg none, HMAC and RSA algorithm confusion,
 * tampering, explicit typing); a principal disabled after issue refused on its next request on
 * every node, cached signature or not; key rotation; nothing secret in the audit log.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { portableSql, testDatabases } from '@realm/testing';
import { type Principal, signingKeyUri } from '../src/index.js';
import { type IdentityFixture, type IdentityNode, identityError, ISSUER, openIdentityFixture } from './helpers.js';

const KMS = { audience: 'kms' } as const;

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

for (const database of testDatabases()) {
  describe(`access tokens on ${database.name}`, () => {
    let fx: IdentityFixture;
    let nodeB: IdentityNode;
    let alice: Principal;
    const issuedTokens: string[] = [];

    /** Signs `claims` with the realm's active signing key, as a forger who stole it would. */
    async function signWithRealmKey(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
      const { keys } = await fx.identity.tokens.jwks();
      const kid = keys[0]!.kid;
      const der = await fx.vault.getKey(signingKeyUri(kid));
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header }).sign(createPrivateKey({ key: der!, format: 'der', type: 'pkcs8' }));
    }

    function goodClaims(more: JWTPayload = {}): JWTPayload {
      const iat = Math.floor(fx.clock.now / 1000);
      return { iss: ISSUER, sub: alice.id, aud: 'kms', client_id: 'bot-client', iat, exp: iat + 300, jti: 'j-1', cep: alice.credentialEpoch, ...more };
    }

    async function issue(principal: Principal = alice, options: { lifetimeSeconds?: number; scope?: string } = {}): Promise<string> {
      const { accessToken } = await fx.identity.tokens.issueAccessToken(principal.id, { ...KMS, clientId: 'web-client', ...options });
      issuedTokens.push(accessToken);
      return accessToken;
    }

    before(async () => {
      fx = await openIdentityFixture(database, { initializeServiceCa: false });
      nodeB = await fx.openNode();
      alice = await fx.identity.principals.createUser({ userName: 'Alice@Example.com', email: 'alice@example.com' });
    });
    after(async () => {
      await fx.close();
    });

    it('issues an RFC 9068 access token and verifies it', async () => {
      const issued = await fx.identity.tokens.issueAccessToken(alice.id, { ...KMS, clientId: 'web-client', scope: 'kms:keys kms:resources' });
      issuedTokens.push(issued.accessToken);
      assert.equal(issued.tokenType, 'Bearer');
      assert.equal(issued.expiresIn, 300);
      const header = decodeProtectedHeader(issued.accessToken);
      assert.equal(header.alg, 'ES256');
      assert.equal(header.typ, 'at+jwt');
      const { keys } = await fx.identity.tokens.jwks();
      assert.equal(header.kid, keys[0]!.kid);

      const verified = await fx.identity.tokens.verifyAccessToken(issued.accessToken, KMS);
      assert.equal(verified.principal.id, alice.id);
      assert.equal(verified.principal.name, 'alice@example.com');
      assert.equal(verified.clientId, 'web-client');
      const { claims } = verified;
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.sub, alice.id);
      assert.equal(claims.aud, 'kms');
      assert.equal(claims.client_id, 'web-client');
      assert.equal(claims.exp - claims.iat, 300);
      assert.equal(claims.cep, 0);
      assert.equal(claims.scope, 'kms:keys kms:resources');
      assert.match(claims.jti, /^[0-9a-f-]{36}$/);
      // Again, from the signature cache, and on another node.
      assert.equal((await fx.identity.tokens.verifyAccessToken(issued.accessToken, KMS)).principal.id, alice.id);
      assert.equal((await nodeB.identity.tokens.verifyAccessToken(issued.accessToken, KMS)).principal.id, alice.id);
    });

    it('keeps tokens short-lived and refuses to issue to an inactive or unknown principal', async () => {
      const long = await issue(alice, { lifetimeSeconds: 3600 });
      const claims = payloadOf(long);
      assert.equal(Number(claims['exp']) - Number(claims['iat']), 3600);
      await assert.rejects(fx.identity.tokens.issueAccessToken(alice.id, { ...KMS, clientId: 'c', lifetimeSeconds: 3601 }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(fx.identity.tokens.issueAccessToken(alice.id, { ...KMS, clientId: 'c', lifetimeSeconds: 0 }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(fx.identity.tokens.issueAccessToken(alice.id, { audience: 'core' as 'kms', clientId: 'c' }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(fx.identity.tokens.issueAccessToken('user:nobody', { ...KMS, clientId: 'c' }), identityError('IDENTITY_PRINCIPAL_NOT_FOUND'));
      const bob = await fx.identity.principals.createUser({ userName: 'bob' });
      await fx.identity.principals.disable(bob.id);
      await assert.rejects(fx.identity.tokens.issueAccessToken(bob.id, { ...KMS, clientId: 'c' }), identityError('IDENTITY_PRINCIPAL_DISABLED'));
      const bodies = await fx.auditBodies();
      assert.ok(bodies.some((b) => b.includes('"action":"identity.token.issue"') && b.includes('"outcome":"denied"') && b.includes(bob.id)));
    });

    it('refuses an expired token, with the configured clock tolerance', async () => {
      const token = await issue();
      const issuedAt = fx.clock.now;
      try {
        fx.clock.now = issuedAt + (300 + 29) * 1000;
        await fx.identity.tokens.verifyAccessToken(token, KMS);
        fx.clock.now = issuedAt + (300 + 30) * 1000;
        await assert.rejects(fx.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_EXPIRED'));
        await assert.rejects(nodeB.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_EXPIRED'));
      } finally {
        fx.clock.now = issuedAt;
      }
    });

    it('refuses a token that is not valid yet', async () => {
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims({ nbf: Math.floor(fx.clock.now / 1000) + 120 })), KMS), identityError('IDENTITY_TOKEN_NOT_YET_VALID'));
      const iat = Math.floor(fx.clock.now / 1000) + 120;
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims({ iat, exp: iat + 300 })), KMS), identityError('IDENTITY_TOKEN_NOT_YET_VALID'));
    });

    it('refuses a token for another audience', async () => {
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims({ aud: 'core' })), KMS), identityError('IDENTITY_TOKEN_AUDIENCE'));
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims({ aud: ['kms', 'core'] })), KMS), identityError('IDENTITY_TOKEN_AUDIENCE'));
    });

    it('refuses a token from another issuer, even one signed with the realm key', async () => {
      const other = await fx.openNode({ tokens: { issuer: 'https://core.example/' } });
      const { accessToken } = await other.identity.tokens.issueAccessToken(alice.id, { ...KMS, clientId: 'c' });
      issuedTokens.push(accessToken);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(accessToken, KMS), identityError('IDENTITY_TOKEN_ISSUER'));
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims({ iss: 'https://realm.test' })), KMS), identityError('IDENTITY_TOKEN_ISSUER'));
      // A core's token: its own key, unknown here.
      const core = await generateKeyPair('ES256');
      const coreToken = await new SignJWT(goodClaims({ iss: 'https://core.example/' })).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'core-1' }).sign(core.privateKey);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(coreToken, KMS), identityError('IDENTITY_TOKEN_INVALID'));
    });

    it('refuses a token signed by an unknown key, under a known or an unknown kid', async () => {
      const { keys } = await fx.identity.tokens.jwks();
      const forger = await generateKeyPair('ES256');
      for (const kid of [keys[0]!.kid, 'unknown-kid']) {
        const token = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(forger.privateKey);
        await assert.rejects(fx.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_INVALID'));
      }
    });

    it('refuses alg none', async () => {
      const { keys } = await fx.identity.tokens.jwks();
      const header = { alg: 'none', typ: 'at+jwt', kid: keys[0]!.kid };
      for (const token of [`${b64url(header)}.${b64url(goodClaims())}.`, `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(goodClaims())}.`, `${b64url({ ...header, alg: 'None' })}.${b64url(goodClaims())}.`]) {
        await assert.rejects(fx.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_INVALID', /not ES256/));
      }
    });

    it('refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
      const { keys } = await fx.identity.tokens.jwks();
      const jwk = keys[0]!;
      const publicPem = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
      for (const secret of [JSON.stringify(jwk), JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }), publicPem]) {
        const token = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid }).sign(new TextEncoder().encode(secret));
        await assert.rejects(fx.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_INVALID'));
      }
    });

    it('refuses RS256 and other algorithms', async () => {
      const { keys } = await fx.identity.tokens.jwks();
      const rsa = await generateKeyPair('RS256');
      const rs256 = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: keys[0]!.kid }).sign(rsa.privateKey);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(rs256, KMS), identityError('IDENTITY_TOKEN_INVALID'));
      const p384 = await generateKeyPair('ES384');
      const es384 = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'ES384', typ: 'at+jwt', kid: keys[0]!.kid }).sign(p384.privateKey);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(es384, KMS), identityError('IDENTITY_TOKEN_INVALID'));
    });

    it('refuses a tampered payload, even after the original was verified', async () => {
      const token = await issue();
      await fx.identity.tokens.verifyAccessToken(token, KMS);
      const mallory = await fx.identity.principals.createUser({ userName: 'mallory' });
      const [header, , signature] = token.split('.');
      for (const change of [{ sub: mallory.id }, { exp: Number(payloadOf(token)['exp']) + 3000 }, { client_id: 'other' }]) {
        const tampered = `${header}.${b64url({ ...payloadOf(token), ...change })}.${signature}`;
        await assert.rejects(fx.identity.tokens.verifyAccessToken(tampered, KMS), identityError('IDENTITY_TOKEN_INVALID', /signature/));
      }
      await assert.rejects(fx.identity.tokens.verifyAccessToken(`${token}x`, KMS), identityError('IDENTITY_TOKEN_INVALID'));
    });

    it('requires explicit typing (typ at+jwt), no key-bearing headers, and sane claims', async () => {
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims(), { typ: 'JWT' }), KMS), identityError('IDENTITY_TOKEN_INVALID', /typ/));
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims(), { typ: undefined }), KMS), identityError('IDENTITY_TOKEN_INVALID', /typ/));
      await fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims(), { typ: 'application/at+jwt' }), KMS);
      const { keys } = await fx.identity.tokens.jwks();
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims(), { jwk: keys[0] }), KMS), identityError('IDENTITY_TOKEN_INVALID'));
      const { cep: _cep, ...withoutEpoch } = goodClaims();
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(withoutEpoch), KMS), identityError('IDENTITY_TOKEN_INVALID', /cep/));
      const iat = Math.floor(fx.clock.now / 1000);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(await signWithRealmKey(goodClaims({ exp: iat + 7200 })), KMS), identityError('IDENTITY_TOKEN_INVALID', /lifetime/));
      for (const garbage of [undefined, 42, '', 'a.b.c', 'x'.repeat(9000), 'eyJhbGciOiJFUzI1NiJ9.e30.']) {
        await assert.rejects(fx.identity.tokens.verifyAccessToken(garbage, KMS), identityError('IDENTITY_TOKEN_INVALID'));
      }
    });

    it('refuses the token of a principal disabled after issue on its very next use, on every node, cached or not', async () => {
      const carol = await fx.identity.principals.createUser({ userName: 'carol' });
      const token = await issue(carol);
      // Verified (and so cached) on both nodes before the disable.
      await fx.identity.tokens.verifyAccessToken(token, KMS);
      await nodeB.identity.tokens.verifyAccessToken(token, KMS);
      await fx.identity.principals.disable(carol.id);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_PRINCIPAL_DISABLED'));
      await assert.rejects(nodeB.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_PRINCIPAL_DISABLED'));
      // Enabling again does not resurrect tokens issued before the disable.
      await nodeB.identity.principals.enable(carol.id);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_REVOKED'));
      await assert.rejects(nodeB.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_REVOKED'));
      const fresh = await issue(await fx.identity.principals.get(carol.id));
      assert.equal((await nodeB.identity.tokens.verifyAccessToken(fresh, KMS)).principal.id, carol.id);
      // Deleted: refused everywhere, for good.
      await nodeB.identity.principals.delete(carol.id);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(fresh, KMS), identityError('IDENTITY_PRINCIPAL_DISABLED'));
    });

    it('revokes outstanding tokens when roles change', async () => {
      const dave = await fx.identity.principals.createUser({ userName: 'dave', roles: ['user'] });
      const token = await issue(dave);
      await nodeB.identity.tokens.verifyAccessToken(token, KMS);
      await fx.identity.principals.setRoles(dave.id, ['user', 'auditor']);
      await assert.rejects(nodeB.identity.tokens.verifyAccessToken(token, KMS), identityError('IDENTITY_TOKEN_REVOKED'));
      const fresh = await issue(await fx.identity.principals.get(dave.id));
      assert.deepEqual((await nodeB.identity.tokens.verifyAccessToken(fresh, KMS)).principal.roles, ['auditor', 'user']);
    });

    it('rotates signing keys: old tokens stay valid until they expire, the JWKS lists both, other nodes follow', async () => {
      const before = await issue();
      const oldKid = decodeProtectedHeader(before).kid!;
      const { kid: newKid, retiredKid } = await fx.identity.tokens.rotateSigningKey();
      assert.equal(retiredKid, oldKid);
      assert.notEqual(newKid, oldKid);
      const after = await issue();
      assert.equal(decodeProtectedHeader(after).kid, newKid);
      // Another node signs with the new key at once, and verifies both.
      const { accessToken: fromB } = await nodeB.identity.tokens.issueAccessToken(alice.id, { ...KMS, clientId: 'c' });
      issuedTokens.push(fromB);
      assert.equal(decodeProtectedHeader(fromB).kid, newKid);
      for (const token of [before, after, fromB]) {
        await fx.identity.tokens.verifyAccessToken(token, KMS);
        await nodeB.identity.tokens.verifyAccessToken(token, KMS);
      }
      const jwks = await nodeB.identity.tokens.jwks();
      assert.deepEqual(jwks.keys.map((k) => k.kid), [newKid, oldKid]);
      for (const key of jwks.keys) {
        assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
        assert.equal(key.alg, 'ES256');
        assert.equal(key.use, 'sig');
      }

      // After the longest lifetime plus the tolerance, the old key is gone from the JWKS and
      // refused; a rotation one further retention period later destroys its private half.
      const start = fx.clock.now;
      try {
        fx.clock.now = start + (3600 + 30 + 1) * 1000;
        assert.deepEqual((await fx.identity.tokens.jwks()).keys.map((k) => k.kid), [newKid]);
        const forged = await new SignJWT({ ...payloadOf(before), iat: Math.floor(fx.clock.now / 1000), exp: Math.floor(fx.clock.now / 1000) + 60 })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: oldKid })
          .sign(createPrivateKey({ key: (await fx.vault.getKey(signingKeyUri(oldKid)))!, format: 'der', type: 'pkcs8' }));
        await assert.rejects(fx.identity.tokens.verifyAccessToken(forged, KMS), identityError('IDENTITY_TOKEN_INVALID', /no longer accepted|not an accepted/));
        const second = await fx.identity.tokens.rotateSigningKey();
        assert.equal(second.retiredKid, newKid);
        assert.ok(await fx.vault.getKey(signingKeyUri(oldKid)), 'destroyed too early: a node whose clock lags may still look for it');
        fx.clock.now = start + 2 * (3600 + 30) * 1000 + 500;
        const third = await fx.identity.tokens.rotateSigningKey();
        assert.equal(third.retiredKid, second.kid);
        assert.equal(await fx.vault.getKey(signingKeyUri(oldKid)), undefined);
        assert.deepEqual((await fx.identity.tokens.jwks()).keys.map((k) => k.kid), [third.kid, second.kid, newKid]);
      } finally {
        fx.clock.now = start;
      }
    });

    it('does not trust a public key planted in the database', async () => {
      const { keys } = await fx.identity.tokens.jwks();
      const planted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = planted.publicKey.export({ format: 'jwk' });
      await fx.db.query(portableSql(fx.db.driver, 'UPDATE identity_signing_keys SET public_jwk = ? WHERE kid = ?'), [JSON.stringify({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }), keys[0]!.kid]);
      const fresh = await fx.openNode();
      const forged = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys[0]!.kid }).sign(planted.privateKey as KeyObject);
      await assert.rejects(fresh.identity.tokens.verifyAccessToken(forged, KMS), identityError('IDENTITY_SIGNING_KEY_INVALID'));
      await fx.db.query(portableSql(fx.db.driver, 'UPDATE identity_signing_keys SET public_jwk = ? WHERE kid = ?'), [JSON.stringify({ kty: 'EC', crv: 'P-256', x: keys[0]!.x, y: keys[0]!.y }), keys[0]!.kid]);
    });

    it('writes no token into the audit log', async () => {
      const bodies = (await fx.auditBodies()).join('\n');
      assert.ok(issuedTokens.length >= 8);
      for (const token of issuedTokens) {
        assert.equal(bodies.includes(token), false, 'an access token reached the audit log');
        assert.equal(bodies.includes(token.split('.')[2]!), false, 'a token signature reached the audit log');
      }
      assert.ok(bodies.includes('"action":"identity.token.issue"'));
      assert.ok(bodies.includes('"action":"identity.signing-key.rotate"'));
      assert.equal(bodies.includes('PRIVATE KEY'), false);
    });
  });
}
