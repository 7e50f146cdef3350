/**
 * The link frames of docs/narrow-api.md §3.1 and §6.9, and the checks of every frame the core
 * sends. Unknown fields are refused (`additionalProperties: false`); a violation names the field,
 * as the contract's error frames do.
 */

export const LINK_SUBPROTOCOL = 'realm-core-link.v1';
export const LINK_PROTOCOL_VERSION = 1;
/** The core's cap (§3): a frame above it is refused by either side. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface WelcomeFrame {
  type: 'welcome';
  protocol: 1;
  linkId: string;
  maxInFlight: number;
  maxBatch: number;
  maxMessageBytes: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}
export interface KmsRequestFrame {
  type: 'kms.request';
  id: string;
  destination: string;
  kmsMessages: string[];
}
export interface DiscoveryRequestFrame {
  type: 'kms.discovery.request';
  id: string;
}
export interface PingFrame {
  type: 'ping';
  nonce: string;
}
export interface PongFrame {
  type: 'pong';
  nonce: string;
}
export interface ErrorFrame {
  type: 'error';
  id?: string;
  status: number;
  code: string;
  message: string;
}
export type CoreFrame = WelcomeFrame | KmsRequestFrame | DiscoveryRequestFrame | PingFrame | PongFrame | ErrorFrame;

/** Frames the appliance sends. */
export type ApplianceFrame =
  | { type: 'hello'; protocol: 1; nodeId: string; kmsCluster: string; maxInFlight: number; maxBatch?: number; maxMessageBytes?: number; software?: string }
  | { type: 'kms.response'; id: string; kmsMessages: string[] }
  | { type: 'kms.discovery.response'; id?: string; kmsCluster: string; rsaPublicKey: Record<string, unknown> }
  | PingFrame
  | PongFrame
  | { type: 'drain' }
  | ErrorFrame;

const FRAME_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const CORE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KMS_CLUSTER = /^kms:\/\/[A-Za-z0-9.-]{1,253}$/;
const KMS_MESSAGE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
export const NODE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A frame that broke the contract; `message` starts with the offending field (§3). */
export class FrameViolation extends Error {
  constructor(
    message: string,
    /** The id of the frame, when it had a usable one (for the error frame). */
    readonly id?: string,
  ) {
    super(message);
  }
}

type Check = (value: unknown, field: string) => void;

const fail = (field: string, what: string): never => {
  throw new FrameViolation(`${field}: ${what}`);
};
const string = (pattern: RegExp, what: string): Check => (v, f) => {
  if (typeof v !== 'string' || !pattern.test(v)) fail(f, `must be ${what}`);
};
const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v, f) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(f, `must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}`);
};
const constant = (c: unknown): Check => (v, f) => {
  if (v !== c) fail(f, `must be ${JSON.stringify(c)}`);
};
const kmsMessages: Check = (v, f) => {
  if (!Array.isArray(v) || v.length < 1 || v.length > 100) fail(f, 'must be an array of 1 to 100 KMS messages');
  (v as unknown[]).forEach((m, i) => {
    if (typeof m !== 'string' || m.length < 1 || m.length > 65536 || !KMS_MESSAGE.test(m)) fail(`${f}[${i}]`, 'must be one compact JWS (3 segments) or JWE (5 segments) of at most 65536 characters');
  });
};

const SCHEMAS: Record<CoreFrame['type'], { required: Record<string, Check>; optional?: Record<string, Check> }> = {
  welcome: {
    required: {
      type: constant('welcome'),
      protocol: constant(LINK_PROTOCOL_VERSION),
      linkId: string(CORE_ID, 'a lower-case UUID'),
      maxInFlight: int(1),
      maxBatch: int(1),
      maxMessageBytes: int(1),
      heartbeatIntervalMs: int(1),
      heartbeatTimeoutMs: int(1),
    },
  },
  'kms.request': {
    required: { type: constant('kms.request'), id: string(FRAME_ID, 'a frame id'), destination: string(KMS_CLUSTER, 'kms://<domain>'), kmsMessages },
  },
  'kms.discovery.request': { required: { type: constant('kms.discovery.request'), id: string(FRAME_ID, 'a frame id') } },
  ping: { required: { type: constant('ping'), nonce: string(FRAME_ID, 'a frame id') } },
  pong: { required: { type: constant('pong'), nonce: string(FRAME_ID, 'a frame id') } },
  error: {
    required: { type: constant('error'), status: int(400, 599), code: string(ERROR_CODE, 'an upper-case error code'), message: (v, f) => (typeof v !== 'string' || v.length > 1024) && fail(f, 'must be a string of at most 1024 characters') },
    optional: { id: string(FRAME_ID, 'a frame id') },
  },
};

/** Parses and checks one frame from the core; throws a {@link FrameViolation} naming the field. */
export function parseCoreFrame(data: string): CoreFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    throw new FrameViolation('(frame): must be one JSON object (RFC 8259)');
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new FrameViolation('(frame): must be one JSON object');
  const fields = frame as Record<string, unknown>;
  const id = typeof fields.id === 'string' && FRAME_ID.test(fields.id) ? fields.id : undefined;
  const schema = typeof fields.type === 'string' ? SCHEMAS[fields.type as CoreFrame['type']] : undefined;
  if (!schema || !Object.hasOwn(SCHEMAS, fields.type as string)) throw new FrameViolation(`type: must be one of ${Object.keys(SCHEMAS).join(', ')}`, id);
  try {
    for (const [name, check] of Object.entries(schema.required)) {
      if (!(name in fields)) fail(name, 'is required');
      check(fields[name], name);
    }
    for (const [name, value] of Object.entries(fields)) {
      if (name in schema.required) continue;
      const check = schema.optional?.[name];
      if (!check) fail(name, 'is not allowed (additionalProperties: false)');
      check!(value, name);
    }
  } catch (error) {
    if (error instanceof FrameViolation) throw new FrameViolation(error.message, id);
    throw error;
  }
  return frame as CoreFrame;
}
