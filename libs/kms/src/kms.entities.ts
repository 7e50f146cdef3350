import { defineEntity } from '@realm/persistence';

/**
 * A KMS key's metadata (draft §3.1). The key material is in the vault under the same URI, sealed
 * under a KEK with the URI as additional data.
 */
export interface KmsKeyRow {
  uri: string;
  /** The creating principal (the draft's userId). */
  owner: string;
  clientId: string;
  resourceUri: string | null;
  createDate: Date;
  /** Unbound: last moment it may be bound. Bound: last moment it may be used to encrypt. */
  expirationDate: Date;
  bindDate: Date | null;
}

/** A KMS resource object (KRO, draft §3.3). */
export interface KmsResourceRow {
  uri: string;
  creator: string;
  createDate: Date;
}

/** An authorization of `authId` (a principal id or another KRO's URI) on a KRO (draft §3.2). */
export interface KmsAuthorizationRow {
  uri: string;
  resourceUri: string;
  authId: string;
  creator: string;
  createDate: Date;
}

/**
 * An ECDHE channel (draft §5). The shared key is in the vault under `uri`. The row is deleted when
 * the client deletes the ephemeral key, and its replay log with it; a request on a deleted channel
 * finds no channel row when its batch is recorded, on every node.
 */
export interface KmsChannelRow {
  uri: string;
  principalId: string;
  clientId: string;
  /** The static key the handshake was encrypted to: a rotation resets its channels. */
  staticKeyUri: string;
  createDate: Date;
  expirationDate: Date;
  /** The channel's key in its replay log (53 random bits, unique): a short key keeps that table small. */
  replayKey: number;
}

/**
 * One batch's requestIds first seen on a channel: the channel's replay log, shared by every node.
 * A channel's rows are numbered 1, 2, 3... in the order they commit; a node appends the next one
 * only after reading those it has not seen, in the same transaction (see KmsChannels).
 */
export interface KmsReplayLogRow {
  /** The channel's {@link KmsChannelRow.replayKey}. */
  channelKey: number;
  seq: number;
  requestIds: string[];
  recordedAt: Date;
}

/** The KMS static identity keys (RSA; private half in the vault). One is active. */
export interface KmsStaticKeyRow {
  /** The JWK kid, `kms://<domain>/statickeys/<uuid>`; also the vault key-pair URI. */
  uri: string;
  state: 'active' | 'retired';
  /** x5c: base64 DER certificates, leaf first (RFC 7517 §4.7); empty until a certificate is set. */
  certificateChain: string[];
  createDate: Date;
  retireDate: Date | null;
}

export const KmsKeyEntity = defineEntity<KmsKeyRow>({
  name: 'kms_keys',
  columns: {
    uri: { column: 'uri', type: 'string', length: 128, primary: true },
    owner: { column: 'owner', type: 'string', length: 256 },
    clientId: { column: 'client_id', type: 'string', length: 256 },
    resourceUri: { column: 'resource_uri', type: 'string', length: 128, nullable: true },
    createDate: { column: 'create_date', type: 'timestamp' },
    expirationDate: { column: 'expiration_date', type: 'timestamp' },
    bindDate: { column: 'bind_date', type: 'timestamp', nullable: true },
  },
});

export const KmsResourceEntity = defineEntity<KmsResourceRow>({
  name: 'kms_resources',
  columns: {
    uri: { column: 'uri', type: 'string', length: 128, primary: true },
    creator: { column: 'creator', type: 'string', length: 256 },
    createDate: { column: 'create_date', type: 'timestamp' },
  },
});

export const KmsAuthorizationEntity = defineEntity<KmsAuthorizationRow>({
  name: 'kms_authorizations',
  columns: {
    uri: { column: 'uri', type: 'string', length: 128, primary: true },
    resourceUri: { column: 'resource_uri', type: 'string', length: 128 },
    authId: { column: 'auth_id', type: 'string', length: 256 },
    creator: { column: 'creator', type: 'string', length: 256 },
    createDate: { column: 'create_date', type: 'timestamp' },
  },
});

export const KmsChannelEntity = defineEntity<KmsChannelRow>({
  name: 'kms_channels',
  columns: {
    uri: { column: 'uri', type: 'string', length: 128, primary: true },
    principalId: { column: 'principal_id', type: 'string', length: 256 },
    clientId: { column: 'client_id', type: 'string', length: 256 },
    staticKeyUri: { column: 'static_key_uri', type: 'string', length: 128 },
    createDate: { column: 'create_date', type: 'timestamp' },
    expirationDate: { column: 'expiration_date', type: 'timestamp' },
    replayKey: { column: 'replay_key', type: 'bigint' },
  },
});

export const KmsReplayLogEntity = defineEntity<KmsReplayLogRow>({
  name: 'kms_replay_log',
  columns: {
    channelKey: { column: 'channel_key', type: 'bigint', primary: true },
    seq: { column: 'seq', type: 'bigint', primary: true },
    requestIds: { column: 'request_ids', type: 'json' },
    recordedAt: { column: 'recorded_at', type: 'timestamp' },
  },
});

/** A handshake seen (SHA-256 of its compact JWE, hex), until no credential it can carry is valid. */
export interface KmsHandshakeRow {
  digest: string;
  expiresAt: Date;
}

export const KmsHandshakeEntity = defineEntity<KmsHandshakeRow>({
  name: 'kms_handshakes',
  columns: {
    digest: { column: 'digest', type: 'string', length: 64, primary: true },
    expiresAt: { column: 'expires_at', type: 'timestamp' },
  },
  indices: [{ name: 'kms_handshakes_expires_at', columns: ['expires_at'] }],
});

export const KmsStaticKeyEntity = defineEntity<KmsStaticKeyRow>({
  name: 'kms_static_keys',
  columns: {
    uri: { column: 'uri', type: 'string', length: 128, primary: true },
    state: { column: 'state', type: 'string', length: 16 },
    certificateChain: { column: 'certificate_chain', type: 'json' },
    createDate: { column: 'create_date', type: 'timestamp' },
    retireDate: { column: 'retire_date', type: 'timestamp', nullable: true },
  },
});

export const KMS_ENTITIES = [KmsKeyEntity, KmsResourceEntity, KmsAuthorizationEntity, KmsChannelEntity, KmsReplayLogEntity, KmsHandshakeEntity, KmsStaticKeyEntity];
