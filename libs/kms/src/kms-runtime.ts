import type { AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { KmsChannels } from './channels/kms-channels.js';
import { AuthorizationPolicy } from './domain/authorization-policy.js';
import { KmsOperations } from './domain/kms-operations.js';
import { KmsStaticKey } from './identity/kms-static-key.js';
import { KmsDispatcher } from './protocol/kms-dispatcher.js';
import { type KmsAuthenticator, KmsPipeline, type KmsPipelineObserver } from './protocol/kms-pipeline.js';
import { KmsUris } from './protocol/kms-uris.js';
import { KmsChannelRepository } from './repositories/channel.repository.js';
import { KmsKeyRepository } from './repositories/key.repository.js';
import { KmsResourceRepository } from './repositories/resource.repository.js';
import { KmsStaticKeyRepository } from './repositories/static-key.repository.js';
import { KmsService } from './kms.service.js';

export interface KmsRuntime {
  readonly uris: KmsUris;
  readonly staticKey: KmsStaticKey;
  readonly channels: KmsChannels;
  readonly operations: KmsOperations;
  readonly pipeline: KmsPipeline;
  readonly service: KmsService;
  /** Stops the periodic purge of expired channels. */
  close(): void;
}

export interface KmsRuntimeOptions {
  readonly authenticator: KmsAuthenticator;
  readonly observer?: KmsPipelineObserver;
  readonly clock?: () => number;
}

/** Assembles the KMS over the runtime opened at boot (database, vault, audit log). */
export function createKmsRuntime(config: RealmConfig, db: Database, vault: KeyVault, audit: AuditLog, options: KmsRuntimeOptions): KmsRuntime {
  const uris = new KmsUris(config.kms.domain);
  const resources = new KmsResourceRepository(db);
  const policy = new AuthorizationPolicy(resources, `${uris.base}/resources/`);
  const operations = new KmsOperations(db, vault, new KmsKeyRepository(db), resources, policy, uris, config.kms, options.clock);
  const channels = new KmsChannels(db, vault, new KmsChannelRepository(db), uris, config.kms, options.clock);
  const staticKey = new KmsStaticKey(db, vault, new KmsStaticKeyRepository(db), uris);
  const dispatcher = new KmsDispatcher(operations, channels, uris);
  const pipeline = new KmsPipeline(staticKey, channels, dispatcher, options.authenticator, audit, uris, { maxMessageBytes: config.kms.maxMessageBytes }, options.observer);
  const service = new KmsService(pipeline, staticKey, uris, config.kms.maxBatch);
  const purge = setInterval(() => void channels.purgeExpired().catch(() => undefined), 60_000);
  purge.unref();
  return { uris, staticKey, channels, operations, pipeline, service, close: () => clearInterval(purge) };
}
