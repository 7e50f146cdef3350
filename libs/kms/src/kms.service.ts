import { Injectable } from '@nestjs/common';
import type { CompactSerialization } from '@realm/crypto';
import type { KmsStaticKey, StaticPublicJwk } from './identity/kms-static-key.js';
import { KmsError } from './kms.error.js';
import type { KmsPipeline } from './protocol/kms-pipeline.js';
import type { KmsUris } from './protocol/kms-uris.js';

/** The transport-facing service: batch limits, destination check, discovery. */
@Injectable()
export class KmsService {
  constructor(
    private readonly pipeline: KmsPipeline,
    private readonly staticKey: KmsStaticKey,
    private readonly uris: KmsUris,
    private readonly maxBatch: number,
  ) {}

  async discovery(): Promise<{ kmsCluster: string; rsaPublicKey: StaticPublicJwk }> {
    // Always the key that is active now, wherever it was rotated.
    this.staticKey.refresh();
    return { kmsCluster: this.uris.base, rsaPublicKey: await this.staticKey.publicJwk() };
  }

  async messages(body: { destination?: string; kmsMessages: string[] }): Promise<{ kmsMessages: CompactSerialization[] }> {
    if (body.destination !== undefined && body.destination !== this.uris.base) {
      throw new KmsError('KMS_BAD_REQUEST', `destination ${body.destination.slice(0, 80)} is not this KMS (${this.uris.base})`);
    }
    if (body.kmsMessages.length > this.maxBatch) {
      throw new KmsError('KMS_TOO_LARGE', `${body.kmsMessages.length} messages in one batch; at most ${this.maxBatch} (kms.maxBatch)`);
    }
    return { kmsMessages: await this.pipeline.process(body.kmsMessages) };
  }
}
