import type { KmsChannels } from '../channels/kms-channels.js';
import type { KmsCaller, KmsOperations } from '../domain/kms-operations.js';
import { KmsError } from '../kms.error.js';
import type { KmsRequest } from './kms-request.js';
import type { KmsUris } from './kms-uris.js';

/** What an operation answers: the status, the response fields, and what the audit record names. */
export interface DispatchResult {
  readonly status: number;
  readonly fields: Record<string, unknown>;
  readonly operation: string;
  readonly resources: readonly string[];
}

/**
 * Routes a request on an established channel to its operation (the operations table of
 * draft-abiggs-saag-key-management-service and its later revisions). Transport-free: the same
 * dispatcher serves POST /kms/messages and messages relayed through the core.
 */
export class KmsDispatcher {
  constructor(
    private readonly operations: KmsOperations,
    private readonly channels: KmsChannels,
    private readonly uris: KmsUris,
  ) {}

  /** Whether `request` is a key retrieval, which {@link dispatchKeyRetrievals} answers in bulk. */
  static isKeyRetrieval(request: KmsRequest): boolean {
    return request.method === 'retrieve' && request.target.kind === 'object' && request.target.collection === 'keys';
  }

  /** Consecutive key retrievals of a batch, answered together (one query per kind of row). */
  async dispatchKeyRetrievals(items: readonly { caller: KmsCaller; request: KmsRequest }[]): Promise<(DispatchResult | KmsError)[]> {
    const results = await this.operations.retrieveKeys(items.map(({ caller, request }) => ({ caller, uri: (request.target as { uri: string }).uri })));
    return results.map((key) => (key instanceof KmsError ? key : { status: 200, fields: { key }, operation: 'key.retrieve', resources: [key.uri] }));
  }

  async dispatch(caller: KmsCaller, request: KmsRequest): Promise<DispatchResult> {
    const { method, target, body } = request;
    const route = `${method} ${target.kind === 'sub-collection' ? `resources/${target.sub}` : `${target.kind}:${target.collection}`}`;
    switch (route) {
      case 'update collection:ping':
        return { status: 200, fields: {}, operation: 'ping', resources: [] };
      case 'create collection:ecdhe':
        throw new KmsError('KMS_BAD_REQUEST', 'create /ecdhe must be encrypted to the KMS static key, not sent on a channel');
      case 'delete object:ecdhe': {
        const uri = (target as { uri: string }).uri;
        await this.channels.delete(uri, caller.principalId);
        return { status: 204, fields: {}, operation: 'ecdhe.delete', resources: [uri] };
      }
      case 'create collection:keys': {
        const keys = await this.operations.createUnboundKeys(caller, body.count);
        return { status: 201, fields: { keys }, operation: 'key.create', resources: keys.map((k) => k.uri) };
      }
      case 'retrieve object:keys': {
        const key = await this.operations.retrieveKey(caller, (target as { uri: string }).uri);
        return { status: 200, fields: { key }, operation: 'key.retrieve', resources: [key.uri] };
      }
      case 'update object:keys': {
        const key = await this.operations.bindKey(caller, (target as { uri: string }).uri, body.resourceUri);
        return { status: 200, fields: { key }, operation: 'key.bind', resources: [key.uri, key.resourceUri!] };
      }
      case 'create collection:resources': {
        const resource = await this.operations.createResource(caller, body);
        return { status: 201, fields: { resource }, operation: 'resource.create', resources: [resource.uri, ...resource.keyUris] };
      }
      case 'retrieve object:resources': {
        const resource = await this.operations.retrieveResource(caller, (target as { uri: string }).uri);
        return { status: 200, fields: { resource }, operation: 'resource.retrieve', resources: [resource.uri] };
      }
      case 'retrieve resources/keys': {
        const uri = (target as { uri: string }).uri;
        const keys = await this.operations.retrieveResourceKeys(caller, uri, body);
        return { status: 200, fields: { keys }, operation: 'resource.keys.retrieve', resources: [uri, ...keys.map((k) => k.uri)] };
      }
      case 'retrieve resources/authorizations': {
        const uri = (target as { uri: string }).uri;
        const authId = request.query.get('authId') ?? undefined;
        const authorizations = await this.operations.listAuthorizations(caller, uri, authId);
        return { status: 200, fields: { authorizations }, operation: 'authorization.list', resources: [uri] };
      }
      case 'delete resources/authorizations': {
        const resourceUri = (target as { uri: string }).uri;
        const authId = request.query.get('authId');
        const authIds = authId !== null ? [authId] : this.operations.authIdsOf(body, true);
        const authorizations = await this.operations.deleteAuthorizations(caller, { resourceUri, authIds });
        return { status: 200, fields: { authorizations }, operation: 'authorization.delete', resources: [resourceUri, ...authorizations.map((a) => a.uri)] };
      }
      case 'create collection:authorizations': {
        const authorizations = await this.operations.createAuthorizations(caller, body);
        return { status: 201, fields: { authorizations }, operation: 'authorization.create', resources: authorizations.map((a) => a.uri) };
      }
      case 'delete object:authorizations': {
        const [authorization] = await this.operations.deleteAuthorizations(caller, { uri: (target as { uri: string }).uri });
        return { status: 200, fields: { authorization }, operation: 'authorization.delete', resources: [authorization!.uri, authorization!.resourceUri] };
      }
      case 'delete collection:authorizations': {
        // Bulk form of the later revisions: {resourceUri, authIds}.
        const resourceUri = this.uris.objectUri(body.resourceUri, 'resources', 'resourceUri');
        const authorizations = await this.operations.deleteAuthorizations(caller, { resourceUri, authIds: this.operations.authIdsOf(body, true) });
        return { status: 200, fields: { authorizations }, operation: 'authorization.delete', resources: [resourceUri, ...authorizations.map((a) => a.uri)] };
      }
      default:
        throw new KmsError('KMS_BAD_REQUEST', `${method} is not supported on ${request.uri.split('?')[0]!.slice(0, 100)}`);
    }
  }
}
