import { KmsError } from '../kms.error.js';

/** The object collections of the KMS (draft §3: keys, resources, authorizations, ephemeral keys). */
export type KmsCollection = 'keys' | 'resources' | 'authorizations' | 'ecdhe';

/** A parsed request URI: a collection, one object, one object's sub-collection, or ping. */
export type KmsTarget =
  | { kind: 'collection'; collection: KmsCollection | 'ping' }
  | { kind: 'object'; collection: KmsCollection; id: string; uri: string }
  | { kind: 'sub-collection'; collection: 'resources'; id: string; uri: string; sub: 'keys' | 'authorizations' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const COLLECTIONS = new Set<string>(['keys', 'resources', 'authorizations', 'ecdhe']);

/**
 * URIs of one KMS domain. Webex clients use absolute URIs (`kms://<domain>/keys/<uuid>`); the
 * draft's relative forms (`/keys/<uuid>`) are accepted and answered in absolute form. A URI of
 * another domain is refused: federation is out of scope.
 */
export class KmsUris {
  readonly base: string;

  constructor(readonly domain: string) {
    this.base = `kms://${domain}`;
  }

  of(collection: KmsCollection, id: string): string {
    return `${this.base}/${collection}/${id}`;
  }

  /** Parses a request's `uri` (query string not included). */
  parse(uri: unknown): KmsTarget {
    if (typeof uri !== 'string' || uri.length === 0 || uri.length > 512) throw invalid('uri must be a string of at most 512 characters');
    let path: string;
    if (uri.startsWith('kms://')) {
      const rest = uri.slice('kms://'.length);
      const slash = rest.indexOf('/');
      const host = slash < 0 ? rest : rest.slice(0, slash);
      if (host.toLowerCase() !== this.domain) throw new KmsError('KMS_NOT_FOUND', `uri names another KMS domain (${host.slice(0, 64)}); this KMS serves ${this.domain}`);
      path = slash < 0 ? '/' : rest.slice(slash);
    } else if (uri.startsWith('/')) {
      path = uri;
    } else {
      throw invalid('uri must be kms://<domain>/... or /...');
    }
    const parts = path.split('/').slice(1);
    if (parts.length === 1 && parts[0] === 'ping') return { kind: 'collection', collection: 'ping' };
    const [collection, id, sub, ...extra] = parts;
    if (collection === undefined || !COLLECTIONS.has(collection) || extra.length > 0) throw new KmsError('KMS_NOT_FOUND', `unknown uri ${path.slice(0, 80)}`);
    const c = collection as KmsCollection;
    if (id === undefined || id === '') return { kind: 'collection', collection: c };
    if (!UUID.test(id)) throw new KmsError('KMS_NOT_FOUND', `unknown uri ${path.slice(0, 80)}`);
    const objectUri = this.of(c, id);
    if (sub === undefined) return { kind: 'object', collection: c, id, uri: objectUri };
    if (c === 'resources' && (sub === 'keys' || sub === 'authorizations')) return { kind: 'sub-collection', collection: 'resources', id, uri: objectUri, sub };
    throw new KmsError('KMS_NOT_FOUND', `unknown uri ${path.slice(0, 80)}`);
  }

  /** Normalises a URI field of a request (`resourceUri`, `keyUris[i]`) that must name a `collection` object. */
  objectUri(value: unknown, collection: KmsCollection, field: string): string {
    let target: KmsTarget;
    try {
      target = this.parse(value);
    } catch {
      throw invalid(`${field} must be a ${collection} URI of this KMS`);
    }
    if (target.kind !== 'object' || target.collection !== collection) throw invalid(`${field} must be a ${collection} URI of this KMS`);
    return target.uri;
  }
}

function invalid(reason: string): KmsError {
  return new KmsError('KMS_BAD_REQUEST', reason);
}
