/**
 * The narrow API's JSON Schemas (draft 2020-12), the single source of docs/narrow-api.md: the
 * contract test checks that every schema printed there equals the one here, and the simulator
 * validates every body and frame it receives against them.
 */

export type JsonSchema = { readonly [keyword: string]: unknown };

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';
const BASE = 'https://schemas.security-realm.invalid/narrow-api/v1/';

export const schemaId = (name: string): string => `${BASE}${name}.json`;
const ref = (name: string, def?: string): { $ref: string } => ({ $ref: def ? `${schemaId(name)}#/$defs/${def}` : schemaId(name) });
const common = (def: string) => ref('common', def);

function schema(name: string, title: string, body: Record<string, unknown>): JsonSchema {
  return { $schema: DRAFT, $id: schemaId(name), title, ...body };
}

/** A closed object: every property listed, unknown ones refused. */
function object(required: string[], properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', required, properties, additionalProperties: false, ...extra };
}

const frame = (type: string) => ({ const: type });

export const commonSchema = schema('common', 'Shared definitions', {
  $defs: {
    kmsCluster: { type: 'string', pattern: '^kms://[A-Za-z0-9.-]{1,253}$', description: 'kms://<kms domain>' },
    keyUrl: { type: 'string', maxLength: 512, pattern: '^kms://[A-Za-z0-9.-]{1,253}/keys/[A-Za-z0-9-]{1,64}$' },
    resourceUrl: { type: 'string', maxLength: 512, pattern: '^kms://[A-Za-z0-9.-]{1,253}/resources/[A-Za-z0-9-]{1,64}$' },
    kmsMessage: {
      type: 'string',
      minLength: 1,
      maxLength: 65536,
      pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*)?$',
      description: 'one compact JWS (3 segments) or JWE (5 segments), opaque to the core',
    },
    kmsMessages: { type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/$defs/kmsMessage' } },
    contentJwe: {
      type: 'string',
      minLength: 1,
      maxLength: 1048576,
      pattern: '^[A-Za-z0-9_-]+\\.\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+$',
      description: 'compact JWE, protected header {"alg":"dir","enc":"A256GCM"} (empty encrypted-key segment)',
    },
    userId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,199}$' },
    coreId: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    frameId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
    dateTime: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,3})?Z$' },
    blindToken: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,128}$', description: 'base64url of an HMAC output (16 to 96 octets)' },
    rsaPublicJwk: {
      type: 'object',
      required: ['kty', 'kid', 'n', 'e', 'x5c'],
      properties: {
        kty: { const: 'RSA' },
        kid: { type: 'string', maxLength: 512, pattern: '^kms://[A-Za-z0-9.-]{1,253}/' },
        n: { type: 'string', minLength: 342, maxLength: 1366, pattern: '^[A-Za-z0-9_-]+$' },
        e: { type: 'string', minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9_-]+$' },
        x5c: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string', minLength: 1, maxLength: 16384, pattern: '^[A-Za-z0-9+/]+={0,2}$' } },
        alg: { type: 'string', maxLength: 32 },
        use: { type: 'string', maxLength: 32 },
      },
      additionalProperties: false,
    },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    errorCode: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{1,63}$' },
    message: { type: 'string', maxLength: 1024 },
  },
});

// ---- HTTP: users ---------------------------------------------------------------------------------

export const userCreateRequest = schema('user-create.request', 'POST /users body', object(['userId'], {
  userId: common('userId'),
  displayName: { type: 'string', minLength: 1, maxLength: 200 },
  kind: { enum: ['person', 'org-bot'] },
}));

export const user = schema('user', 'A user of the core', object(['userId', 'displayName', 'kind', 'createdAt'], {
  userId: common('userId'),
  displayName: { type: 'string' },
  kind: { enum: ['person', 'org-bot'] },
  createdAt: common('dateTime'),
}));

export const userCreateResponse = schema('user-create.response', 'POST /users answer (201 new, 200 existing)', object(['user', 'token', 'expiresAt'], {
  user: ref('user'),
  token: { type: 'string', pattern: '^cst_[A-Za-z0-9_-]{43}$', description: "the core's own bearer token; worthless to the KMS" },
  expiresAt: common('dateTime'),
}));

// ---- HTTP: rooms ---------------------------------------------------------------------------------

export const roomCreateRequest = schema('room-create.request', 'POST /rooms body', object(['kmsResourceObjectUrl', 'defaultActivityEncryptionKeyUrl', 'participants'], {
  kmsResourceObjectUrl: common('resourceUrl'),
  defaultActivityEncryptionKeyUrl: common('keyUrl'),
  participants: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: common('userId') },
  encryptedTitle: common('contentJwe'),
}));

export const roomUpdateRequest = schema('room-update.request', 'PATCH /rooms/{roomId} body (key rotation, title)', object([], {
  kmsResourceObjectUrl: common('resourceUrl'),
  defaultActivityEncryptionKeyUrl: common('keyUrl'),
  encryptedTitle: common('contentJwe'),
}, { minProperties: 1 }));

export const participantAddRequest = schema('participant-add.request', 'POST /rooms/{roomId}/participants body', object(['userId'], {
  userId: common('userId'),
}));

export const room = schema('room', 'A room (conversation)', object(['id', 'kmsResourceObjectUrl', 'defaultActivityEncryptionKeyUrl', 'participants', 'createdBy', 'createdAt', 'updatedAt'], {
  id: common('coreId'),
  kmsResourceObjectUrl: common('resourceUrl'),
  defaultActivityEncryptionKeyUrl: common('keyUrl'),
  encryptedTitle: common('contentJwe'),
  participants: { type: 'array', items: common('userId') },
  createdBy: common('userId'),
  createdAt: common('dateTime'),
  updatedAt: common('dateTime'),
}));

export const roomList = schema('room-list.response', 'GET /rooms answer', object(['items'], {
  items: { type: 'array', items: ref('room') },
}));

// ---- HTTP: activities ----------------------------------------------------------------------------

export const activityCreateRequest = schema('activity-create.request', 'POST /rooms/{roomId}/activities body', object(['encryptedContent', 'encryptionKeyUrl'], {
  encryptedContent: common('contentJwe'),
  encryptionKeyUrl: common('keyUrl'),
  clientActivityId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'idempotency key: a retry with the same value returns the first activity' },
}));

export const activity = schema('activity', 'An activity (a posted message)', object(['id', 'seq', 'roomId', 'actorId', 'encryptedContent', 'encryptionKeyUrl', 'published'], {
  id: common('coreId'),
  seq: { type: 'integer', minimum: 1, description: 'the core-wide insertion order; the cursor of listings and event streams' },
  roomId: common('coreId'),
  actorId: common('userId'),
  encryptedContent: common('contentJwe'),
  encryptionKeyUrl: common('keyUrl'),
  clientActivityId: { type: 'string' },
  published: common('dateTime'),
}));

export const activityList = schema('activity-list.response', 'GET /activities and GET /rooms/{roomId}/activities answer', object(['items', 'nextCursor'], {
  items: { type: 'array', items: ref('activity') },
  nextCursor: { type: ['string', 'null'], pattern: '^[0-9]{1,16}$', description: 'pass as after= for the next page; null on the last page' },
}));

// ---- HTTP: KMS relay -----------------------------------------------------------------------------

export const kmsMessagesRequest = schema('kms-messages.request', 'POST /kms/messages body', object(['destination', 'kmsMessages'], {
  destination: common('kmsCluster'),
  kmsMessages: common('kmsMessages'),
}));

export const kmsMessagesAccepted = schema('kms-messages.accepted', 'POST /kms/messages answer (202)', object(['batchId', 'messageCount'], {
  batchId: common('coreId'),
  messageCount: { type: 'integer', minimum: 1 },
}));

export const kmsDiscovery = schema('kms-discovery', 'GET /kms/{cluster} answer, and the link frame that carries it', object(['kmsCluster', 'rsaPublicKey'], {
  kmsCluster: common('kmsCluster'),
  rsaPublicKey: common('rsaPublicJwk'),
}));

// ---- HTTP: blind index ---------------------------------------------------------------------------

export const blindIndexPutRequest = schema('blind-index-put.request', 'POST /blind-index/tokens body (replaces the activity\'s tokens)', object(['activityId', 'tokens'], {
  activityId: common('coreId'),
  tokens: { type: 'array', maxItems: 2000, uniqueItems: true, items: common('blindToken') },
}));

export const blindIndexPutResponse = schema('blind-index-put.response', 'POST /blind-index/tokens answer', object(['activityId', 'tokenCount'], {
  activityId: common('coreId'),
  tokenCount: { type: 'integer', minimum: 0 },
}));

export const blindIndexMatchRequest = schema('blind-index-match.request', 'POST /blind-index/match body', object(['tokens'], {
  tokens: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: common('blindToken') },
  mode: { enum: ['all', 'any'], description: 'all (default): activities holding every token; any: at least one' },
  roomId: common('coreId'),
  limit: { type: 'integer', minimum: 1, maximum: 1000 },
}));

export const blindIndexMatchResponse = schema('blind-index-match.response', 'POST /blind-index/match answer', object(['activityIds'], {
  activityIds: { type: 'array', items: common('coreId'), description: 'newest first' },
}));

// ---- HTTP: errors --------------------------------------------------------------------------------

export const errorResponse = schema('error.response', 'Every 4xx/5xx body', object(['error'], {
  error: object(['code', 'message', 'requestId'], {
    code: common('errorCode'),
    message: common('message'),
    field: { type: 'string', description: 'the offending field, as a JSON path (participants[1])' },
    requestId: { type: 'string' },
  }),
}));

// ---- client events WebSocket (core → client) -----------------------------------------------------

export const eventReady = schema('event.ready', 'events: first frame', object(['type', 'connectionId', 'userId'], {
  type: frame('ready'),
  connectionId: common('coreId'),
  userId: common('userId'),
}));

export const eventKmsResponse = schema('event.kms-response', 'events: the KMS answers to one POST /kms/messages', object(['type', 'batchId', 'kmsMessages'], {
  type: frame('kms.response'),
  batchId: common('coreId'),
  kmsMessages: common('kmsMessages'),
}));

export const eventKmsFailed = schema('event.kms-failed', 'events: a batch the core could not relay or answer', object(['type', 'batchId', 'status', 'code', 'message'], {
  type: frame('kms.failed'),
  batchId: common('coreId'),
  status: common('status'),
  code: { enum: ['KMS_UNAVAILABLE', 'KMS_TIMEOUT', 'LINK_LOST', 'KMS_REFUSED'] },
  message: common('message'),
}));

export const eventActivityCreated = schema('event.activity-created', 'events: a new activity in a room the user is in (every room for an org-bot)', object(['type', 'activity'], {
  type: frame('activity.created'),
  activity: ref('activity'),
}));

// ---- appliance link (WebSocket, subprotocol realm-core-link.v1) ----------------------------------

export const linkHello = schema('link.hello', 'appliance → core: first frame', object(['type', 'protocol', 'nodeId', 'kmsCluster', 'maxInFlight'], {
  type: frame('hello'),
  protocol: { const: 1 },
  nodeId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'stable per appliance node; a new link with the same nodeId replaces the old one' },
  kmsCluster: common('kmsCluster'),
  maxInFlight: { type: 'integer', minimum: 1, maximum: 1024, description: 'kms.request frames the node accepts unanswered at once' },
  maxBatch: { type: 'integer', minimum: 1, maximum: 1000 },
  maxMessageBytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
  software: { type: 'string', maxLength: 128 },
}));

export const linkWelcome = schema('link.welcome', 'core → appliance: answer to hello', object(['type', 'protocol', 'linkId', 'maxInFlight', 'maxBatch', 'maxMessageBytes', 'heartbeatIntervalMs', 'heartbeatTimeoutMs'], {
  type: frame('welcome'),
  protocol: { const: 1 },
  linkId: common('coreId'),
  maxInFlight: { type: 'integer', minimum: 1, description: 'effective limit: min(hello.maxInFlight, the core\'s own cap)' },
  maxBatch: { type: 'integer', minimum: 1 },
  maxMessageBytes: { type: 'integer', minimum: 1 },
  heartbeatIntervalMs: { type: 'integer', minimum: 1 },
  heartbeatTimeoutMs: { type: 'integer', minimum: 1 },
}));

export const linkKmsRequest = schema('link.kms-request', 'core → appliance: one client batch to process', object(['type', 'id', 'destination', 'kmsMessages'], {
  type: frame('kms.request'),
  id: common('frameId'),
  destination: common('kmsCluster'),
  kmsMessages: common('kmsMessages'),
}));

export const linkKmsResponse = schema('link.kms-response', 'appliance → core: the answers, one per message, same order', object(['type', 'id', 'kmsMessages'], {
  type: frame('kms.response'),
  id: common('frameId'),
  kmsMessages: common('kmsMessages'),
}));

export const linkDiscoveryRequest = schema('link.kms-discovery-request', 'core → appliance: send the static public key', object(['type', 'id'], {
  type: frame('kms.discovery.request'),
  id: common('frameId'),
}));

export const linkDiscoveryResponse = schema('link.kms-discovery-response', 'appliance → core: the static public key (id absent: unsolicited, after a rotation)', object(['type', 'kmsCluster', 'rsaPublicKey'], {
  type: frame('kms.discovery.response'),
  id: common('frameId'),
  kmsCluster: common('kmsCluster'),
  rsaPublicKey: common('rsaPublicJwk'),
}));

export const linkPing = schema('link.ping', 'either way: heartbeat', object(['type', 'nonce'], {
  type: frame('ping'),
  nonce: common('frameId'),
}));

export const linkPong = schema('link.pong', 'either way: heartbeat answer, echoing the nonce', object(['type', 'nonce'], {
  type: frame('pong'),
  nonce: common('frameId'),
}));

export const linkDrain = schema('link.drain', 'appliance → core: send no new requests on this link (in-flight ones are still answered)', object(['type'], {
  type: frame('drain'),
}));

export const linkError = schema('link.error', 'either way: a frame was refused, or (with the id of a kms.request) the batch cannot be processed', object(['type', 'status', 'code', 'message'], {
  type: frame('error'),
  id: common('frameId'),
  status: common('status'),
  code: common('errorCode'),
  message: common('message'),
}));

export const linkFrame = schema('link.frame', 'any link frame', {
  oneOf: [
    ref('link.hello'), ref('link.welcome'), ref('link.kms-request'), ref('link.kms-response'), ref('link.kms-discovery-request'),
    ref('link.kms-discovery-response'), ref('link.ping'), ref('link.pong'), ref('link.drain'), ref('link.error'),
  ],
});

export const allSchemas: readonly JsonSchema[] = [
  commonSchema,
  userCreateRequest, user, userCreateResponse,
  roomCreateRequest, roomUpdateRequest, participantAddRequest, room, roomList,
  activityCreateRequest, activity, activityList,
  kmsMessagesRequest, kmsMessagesAccepted, kmsDiscovery,
  blindIndexPutRequest, blindIndexPutResponse, blindIndexMatchRequest, blindIndexMatchResponse,
  errorResponse,
  eventReady, eventKmsResponse, eventKmsFailed, eventActivityCreated,
  linkHello, linkWelcome, linkKmsRequest, linkKmsResponse, linkDiscoveryRequest, linkDiscoveryResponse, linkPing, linkPong, linkDrain, linkError, linkFrame,
];

/** The link frame schema of each `type` an appliance may send. */
export const applianceFrames: Readonly<Record<string, JsonSchema>> = {
  hello: linkHello,
  'kms.response': linkKmsResponse,
  'kms.discovery.response': linkDiscoveryResponse,
  ping: linkPing,
  pong: linkPong,
  drain: linkDrain,
  error: linkError,
};
