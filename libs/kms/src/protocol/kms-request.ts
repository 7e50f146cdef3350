import { KmsError } from '../kms.error.js';
import type { KmsTarget, KmsUris } from './kms-uris.js';

export type KmsMethod = 'create' | 'retrieve' | 'update' | 'delete';
const METHODS = new Set<string>(['create', 'retrieve', 'update', 'delete']);

/** The credential part of a request (draft §4.1): a bearer token, or a JWK with an x5c chain. */
export interface KmsCredential {
  readonly bearer?: string;
  readonly jwk?: Record<string, unknown>;
  /** Proof of possession of `jwk`'s private key, required at the handshake (see docs). */
  readonly proof?: string;
  readonly userId?: string;
  readonly onBehalfOf?: string;
}

/** A decrypted, validated request (draft §4.1). */
export interface KmsRequest {
  readonly method: KmsMethod;
  readonly uri: string;
  readonly target: KmsTarget;
  /** The URI's query parameters (`?authId=...`), read-only. */
  readonly query: KmsQuery;
  readonly requestId: string;
  readonly clientId: string;
  readonly credential: KmsCredential;
  /** The whole body, for the operation-specific fields. */
  readonly body: Record<string, unknown>;
}

export type KmsQuery = Pick<URLSearchParams, 'get' | 'has'>;
/** Most URIs have no query string (every key retrieval): they share this rather than each parse one. */
const NO_QUERY: KmsQuery = Object.freeze({ get: () => null, has: () => false });

/**
 * Parses and validates the cleartext of a request. Anything malformed becomes KMS_BAD_REQUEST
 * naming the field; the requestId, when it could be read, is kept for the error response.
 */
export function parseKmsRequest(plaintext: Buffer, uris: KmsUris): KmsRequest {
  let body: unknown;
  try {
    body = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new KmsError('KMS_BAD_REQUEST', 'the request is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new KmsError('KMS_BAD_REQUEST', 'the request must be a JSON object');
  const fields = body as Record<string, unknown>;
  const requestId = requestIdOf(fields.requestId);
  const fail = (reason: string) => withRequestId(new KmsError('KMS_BAD_REQUEST', reason), requestId);
  if (typeof fields.method !== 'string' || !METHODS.has(fields.method)) throw fail('method must be one of create, retrieve, update, delete');
  if (typeof fields.uri !== 'string') throw fail('uri must be a string');
  const [path, search = ''] = fields.uri.split('?', 2) as [string, string?];
  let target: KmsTarget;
  try {
    target = uris.parse(path);
  } catch (error) {
    throw withRequestId(error as KmsError, requestId);
  }
  const client = fields.client;
  if (typeof client !== 'object' || client === null || Array.isArray(client)) throw fail('client must be an object with clientId and credential');
  const { clientId, credential } = client as Record<string, unknown>;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 256) throw fail('client.clientId must be a string of 1 to 256 characters');
  if (typeof credential !== 'object' || credential === null || Array.isArray(credential)) throw fail('client.credential must be an object');
  const c = credential as Record<string, unknown>;
  const hasBearer = c.bearer !== undefined;
  const hasJwk = c.jwk !== undefined;
  if (hasBearer === hasJwk) throw fail('client.credential must hold exactly one of bearer and jwk');
  if (hasBearer && (typeof c.bearer !== 'string' || c.bearer.length === 0 || c.bearer.length > 8192)) throw fail('client.credential.bearer must be a token string');
  if (hasJwk && (typeof c.jwk !== 'object' || c.jwk === null || Array.isArray(c.jwk))) throw fail('client.credential.jwk must be a JWK object');
  for (const name of ['userId', 'onBehalfOf', 'proof'] as const) {
    if (c[name] !== undefined && (typeof c[name] !== 'string' || (c[name] as string).length > 8192)) throw fail(`client.credential.${name} must be a string`);
  }
  return {
    method: fields.method as KmsMethod,
    uri: fields.uri,
    target,
    query: search === '' ? NO_QUERY : new URLSearchParams(search),
    requestId,
    clientId,
    credential: {
      ...(hasBearer && { bearer: c.bearer as string }),
      ...(hasJwk && { jwk: c.jwk as Record<string, unknown> }),
      ...(c.proof !== undefined && { proof: c.proof as string }),
      ...(c.userId !== undefined && { userId: c.userId as string }),
      ...(c.onBehalfOf !== undefined && { onBehalfOf: c.onBehalfOf as string }),
    },
    body: fields,
  };
}

/** requestId is a string (the editor's later revisions; every example is a UUID); old integer ids are kept as text. */
function requestIdOf(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) throw new KmsError('KMS_BAD_REQUEST', 'requestId must be a string of 1 to 128 characters');
  return value;
}

/** The requestId of a failed request, carried on the error so that the response can echo it. */
const REQUEST_ID = Symbol('requestId');

export function withRequestId(error: KmsError, requestId: string): KmsError {
  (error as KmsError & { [REQUEST_ID]?: string })[REQUEST_ID] = requestId;
  return error;
}

export function requestIdOfError(error: unknown): string | undefined {
  return (error as { [REQUEST_ID]?: string } | undefined)?.[REQUEST_ID];
}
