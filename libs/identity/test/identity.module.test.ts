/** The Nest module hands the services opened before Nest to whoever injects them. */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { testDatabases } from '@realm/testing';
import { IdentityModule, PrincipalService, ServiceCertificateAuthority, TokenService } from '../src/index.js';
import { type IdentityFixture, openIdentityFixture } from './helpers.js';

@Injectable()
class KmsLikeConsumer {
  constructor(
    readonly principals: PrincipalService,
    readonly tokens: TokenService,
    readonly serviceCa: ServiceCertificateAuthority,
  ) {}
}

@Module({ providers: [KmsLikeConsumer] })
class ConsumerModule {}

for (const database of testDatabases()) {
  describe(`IdentityModule on ${database.name}`, () => {
    let fx: IdentityFixture;

    before(async () => {
      fx = await openIdentityFixture(database);
    });
    after(async () => {
      await fx.close();
    });

    it('provides the opened services, with the service CA and a signing key ready', async () => {
      @Module({ imports: [IdentityModule.forRoot(fx.identity), ConsumerModule] })
      class TestAppModule {}
      const app = await NestFactory.createApplicationContext(TestAppModule, { logger: false });
      try {
        const consumer = app.get(KmsLikeConsumer);
        assert.equal(consumer.principals, fx.identity.principals);
        assert.equal(consumer.tokens, fx.identity.tokens);
        assert.equal(consumer.serviceCa, fx.identity.serviceCa);
        const user = await consumer.principals.createUser({ userName: 'nest-user' });
        const { accessToken } = await consumer.tokens.issueAccessToken(user.id, { audience: 'kms', clientId: 'nest' });
        assert.equal((await consumer.tokens.verifyAccessToken(accessToken, { audience: 'kms' })).principal.id, user.id);
        assert.equal((await consumer.tokens.jwks()).keys.length, 1);
        assert.match(await consumer.serviceCa.caCertificatePem(), /BEGIN CERTIFICATE/);
      } finally {
        await app.close();
      }
    });
  });
}
