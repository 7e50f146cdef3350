import { AuditError, type AuditEvent, type AuditLog } from '@realm/audit';
import { type CompactSerialization, decryptDirA256Gcm, encryptDirA256Gcm, type JoseHeader, type ParsedCompact, peekCompactHeader } from '@realm/crypto';
import { PersistenceError } from '@realm/persistence';
import { VaultError } from '@realm/vault';
import { KmsChannels, type OpenChannel } from '../channels/kms-channels.js';
import type { KmsCaller } from '../domain/kms-operations.js';
import type { KmsStaticKey } from '../identity/kms-static-key.js';
import { KmsError, kmsStatusOf, staticKeyReset } from '../kms.error.js';
import { type DispatchResult, KmsDispatcher } from './kms-dispatcher.js';
import { type KmsCredential, type KmsRequest, parseKmsRequest, requestIdOfError, withRequestId } from './kms-request.js';
import type { KmsUris } from './kms-uris.js';

/** Who a credential names, once verified. */
export interface AuthenticatedPrincipal {
  readonly principalId: string;
  readonly kind: 'user' | 'service';
  readonly roles: readonly string[];
}

/**
 * The port through which the KMS verifies credentials, on every request: a bearer access token
 * issued by this appliance, or a service's JWK with an x5c chain from the service CA. At the
 * handshake, `handshakeJwk` is the client's ephemeral key, which a JWK credential's proof of
 * possession must cover.
 */
export interface KmsAuthenticator {
  authenticate(credential: KmsCredential, context: { readonly requestId: string; readonly handshakeJwk?: unknown }): Promise<AuthenticatedPrincipal>;
}

/** Reports what the pipeline does with one message, for metrics. */
export interface KmsPipelineObserver {
  message(operation: string, status: number, seconds: number): void;
}

const ORG_AGENT_ROLE = 'org-agent';

/** An authenticated request on a channel, waiting for its batch's replay recording. */
interface Prepared {
  readonly channel: OpenChannel;
  readonly request: KmsRequest;
  readonly principal: AuthenticatedPrincipal;
  readonly started: number;
}

/** A request decrypted and parsed on its channel, waiting for its credential's verification. */
interface Opened {
  readonly channel: OpenChannel;
  readonly request: KmsRequest;
  /** The credential as the batch's verifications are keyed: the bearer token, or the JWK. */
  readonly credentialKey: string;
  readonly started: number;
}

/** A message as its protected header classifies it: a handshake, a request on a channel, or already answered. */
type Decoded =
  | Outcome
  | { readonly handshake: string; readonly header: JoseHeader; readonly started: number }
  | { readonly onChannel: ParsedCompact; readonly kid: string; readonly started: number };

/**
 * What a message gets: its response (synchronous when it is encrypted on a channel, which is every
 * answer of the bulk of the traffic; a promise when it is signed, which may take a round trip to
 * the HSM) and its audit record.
 */
interface Outcome {
  readonly response: () => CompactSerialization | Promise<CompactSerialization>;
  readonly audit?: AuditEvent;
  /** A response that replaces `response` if the audit record cannot be written (fail closed). */
  readonly unaudited?: () => CompactSerialization | Promise<CompactSerialization>;
}

/**
 * The KMS message pipeline: compact JWE in, compact JWE or JWS out, one response per message in
 * the same order, whatever the transport (POST /kms/messages, or batches relayed by the core).
 *
 * - `RSA-OAEP` to the static key: the ECDHE handshake, answered by a JWS signed with the static key.
 * - `dir` + `A256GCM` with the channel URI as kid: a request on a channel, answered on it.
 * - Anything that cannot be answered on a channel (unknown or expired channel, undecryptable or
 *   malformed message) is answered by a JWS error signed with the static key, which the relay can
 *   neither forge nor read anything from; a message to a rotated static key gets the signed reset.
 *
 * Every message is audited; a response is released only after its audit record is committed.
 */
export class KmsPipeline {
  constructor(
    private readonly staticKey: KmsStaticKey,
    private readonly channels: KmsChannels,
    private readonly dispatcher: KmsDispatcher,
    private readonly authenticator: KmsAuthenticator,
    private readonly audit: AuditLog,
    private readonly uris: KmsUris,
    private readonly limits: { readonly maxMessageBytes: number },
    private readonly observer?: KmsPipelineObserver,
  ) {}

  async process(messages: readonly unknown[]): Promise<CompactSerialization[]> {
    // 1. What needs no write: decode, decrypt, parse, authenticate (handshakes complete here). The
    //    batch's channels are looked up once each and its distinct credentials (usually one, many
    //    times) verified once each, together: not an await per message.
    const stages = await this.prepare(messages);
    const prepared = stages.filter((s): s is Prepared => 'request' in s);
    if (prepared.length > 0 && prepared.every((p) => KmsDispatcher.isKeyRetrieval(p.request))) return this.processRetrievals(stages, prepared);
    // 2. One transaction records every requestId of the batch in its channel's replay log, and
    //    reads which static key is active: another node (or realmctl) may have rotated it.
    const recorded = await this.channels
      .recordRequests(
        prepared.map((p) => ({ channelUri: p.channel.row.uri, requestId: p.request.requestId })),
        (tx) => this.staticKey.activeUriIn(tx),
      )
      .catch((error: unknown) => prepared.map(() => asKmsError(error, 'KMS_INTERNAL')));
    // 3. Dispatch in order: a batch may create a key and then bind it. A run of consecutive key
    //    retrievals (the bulk of the traffic) is answered together: everything before it has
    //    completed and nothing in it writes, so the answers are those of one-by-one dispatch.
    const recordedOf = new Map(prepared.map((p, i) => [p, recorded[i]]));
    const outcomes: Outcome[] = [];
    for (let i = 0; i < stages.length; ) {
      const stage = stages[i]!;
      if (!('request' in stage)) {
        outcomes.push(stage);
        i += 1;
        continue;
      }
      const run: Prepared[] = [];
      while (i < stages.length && 'request' in stages[i]! && KmsDispatcher.isKeyRetrieval((stages[i] as Prepared).request)) run.push(stages[i++] as Prepared);
      if (run.length === 0) {
        outcomes.push(await this.complete(stage, recordedOf.get(stage)));
        i += 1;
      } else {
        outcomes.push(...(await this.completeRetrievals(run, recordedOf)));
      }
    }
    // 4. The audit records of the batch commit together (group commit); no answer leaves without its record.
    const audited = await Promise.allSettled(outcomes.map((o) => (o.audit ? this.audit.record(o.audit) : Promise.resolve())));
    return allResponses(outcomes.map((o, i) => (audited[i]!.status === 'fulfilled' ? o.response() : (o.unaudited ?? o.response)())));
  }

  /**
   * A batch whose requests only read keys (the bulk of the traffic) commits once. Its answers are
   * computed first: nothing in it writes, so they are the answers it would get after recording its
   * requestIds. Then one transaction records the requestIds (a replay, or a channel another node
   * deleted meanwhile, replaces that answer with its error) and appends every audit record of the
   * batch. No answer leaves before that commit; if it fails, no answer is released (fail closed).
   */
  private async processRetrievals(stages: readonly (Outcome | Prepared)[], prepared: Prepared[]): Promise<CompactSerialization[]> {
    const answered = await this.completeRetrievals(prepared, new Map());
    const indexOf = new Map(prepared.map((p, i) => [p, i]));
    const entries = prepared.map((p) => ({ channelUri: p.channel.row.uri, requestId: p.request.requestId }));
    const commit = () =>
      this.audit.writeWithRecords(async (tx) => {
        const recorded = await this.channels.recordRequestsIn(entries, tx, await this.staticKey.activeUriIn(tx));
        const outcomes = stages.map((stage) => {
          if (!('request' in stage)) return stage;
          const i = indexOf.get(stage)!;
          return recorded[i] ? this.settle(stage, recorded[i]) : answered[i]!;
        });
        return { value: outcomes, events: outcomes.flatMap((o) => (o.audit ? [o.audit] : [])) };
      });
    let outcomes: Outcome[];
    try {
      outcomes = await KmsChannels.retryingRaces(commit);
    } catch {
      const unaudited = stages.map((stage) => ('request' in stage ? answered[indexOf.get(stage)!]! : stage));
      return allResponses(unaudited.map((o) => (o.audit ? (o.unaudited ?? o.response) : o.response)()));
    }
    return allResponses(outcomes.map((o) => o.response()));
  }

  /** Decodes, decrypts, parses and authenticates every message of a batch, in order. */
  private async prepare(messages: readonly unknown[]): Promise<(Outcome | Prepared)[]> {
    const decoded = messages.map((message) => this.decode(message));
    const kids = [...new Set(decoded.flatMap((d) => ('kid' in d && d.kid !== '' ? [d.kid] : [])))];
    const channels = new Map(await Promise.all(kids.map(async (kid) => [kid, await this.channels.find(kid)] as const)));
    // The active static key as this node last read it. Whether it is still active is checked in
    // the transaction that records the batch (a channel under a key rotated meanwhile gets the
    // reset there); a channel under another key than this one may have been opened on another node
    // after a rotation this node has not seen yet, so the key is read again before the reset.
    let activeUri = kids.length > 0 ? (await this.staticKey.current()).uri : '';
    if ([...channels.values()].some((channel) => channel !== undefined && channel.row.staticKeyUri !== activeUri)) {
      this.staticKey.refresh();
      activeUri = (await this.staticKey.current()).uri;
    }
    // The principal behind each distinct credential (it is still read from the database for every batch).
    const credentials = new Map<string, Promise<AuthenticatedPrincipal>>();
    const opened = decoded.map((d) => ('kid' in d ? this.openOnChannel(d, channels.get(d.kid), activeUri, credentials) : d));
    const verified = new Map<string, PromiseSettledResult<AuthenticatedPrincipal>>();
    const pending = [...credentials];
    (await Promise.allSettled(pending.map(([, verifying]) => verifying))).forEach((result, i) => verified.set(pending[i]![0], result));
    const stages: (Outcome | Prepared)[] = [];
    for (const stage of opened) {
      if ('credentialKey' in stage) stages.push(this.authenticated(stage, verified.get(stage.credentialKey)!));
      else if ('handshake' in stage) stages.push(await this.handshakeStage(stage));
      else stages.push(stage);
    }
    return stages;
  }

  /** What a message is, from its protected header alone; anything unusable is answered here. */
  private decode(message: unknown): Decoded {
    const started = performance.now();
    const refuse = (reason: string) => {
      this.observe('invalid', 400, started);
      return this.signedError(new KmsError('KMS_BAD_REQUEST', reason));
    };
    if (typeof message !== 'string' || message.length > this.limits.maxMessageBytes) {
      return refuse(`each KMS message must be a compact JWE of at most ${this.limits.maxMessageBytes} bytes`);
    }
    let parsed: ParsedCompact;
    try {
      parsed = peekCompactHeader(message);
    } catch {
      return refuse('the message is not a compact JWE');
    }
    const { header, kind } = parsed;
    if (kind !== 'jwe') return refuse('requests must be JWE, not JWS');
    if (header.alg === 'dir') return { onChannel: parsed, kid: typeof header.kid === 'string' ? header.kid : '', started };
    if (header.alg === 'RSA-OAEP') return { handshake: message, header, started };
    return refuse('unsupported alg: requests use RSA-OAEP (handshake) or dir with A256GCM');
  }

  private async handshakeStage(stage: { readonly handshake: string; readonly header: JoseHeader; readonly started: number }): Promise<Outcome> {
    const outcome = await this.handshake(stage.handshake, stage.header);
    this.observe(outcome.operation, outcome.status, stage.started);
    return outcome;
  }

  private observe(operation: string, status: number, started: number): void {
    this.observer?.message(operation, status, (performance.now() - started) / 1000);
  }

  /** create /ecdhe, encrypted to the static key (draft §5.1). */
  private async handshake(message: string, header: Record<string, unknown>): Promise<Outcome & { operation: string; status: number }> {
    let active = await this.staticKey.current();
    if (header.kid !== active.uri) {
      // The client may have taken the key from discovery on another node, after a rotation this
      // node has not seen yet: read it again before refusing.
      this.staticKey.refresh();
      active = await this.staticKey.current();
    }
    if (header.kid !== active.uri) {
      const stale = typeof header.kid === 'string' && (await this.staticKey.isRetired(header.kid));
      if (stale) return { response: () => this.signedErrorText(staticKeyReset(), undefined, header.kid as string), operation: 'ecdhe.create', status: 499 };
      const error = new KmsError('KMS_BAD_REQUEST', 'the message is not encrypted to this KMS static key');
      return { ...this.signedError(error), operation: 'ecdhe.create', status: kmsStatusOf(error.code) };
    }
    let requestId: string | undefined;
    let principal: AuthenticatedPrincipal | undefined;
    let clientId: string | undefined;
    try {
      const request = parseKmsRequest(await this.staticKey.decryptHandshake(message).catch(() => {
        throw new KmsError('KMS_BAD_REQUEST', 'the handshake could not be decrypted with the KMS static key');
      }), this.uris);
      requestId = request.requestId;
      clientId = request.clientId;
      if (request.method !== 'create' || request.target.kind !== 'collection' || request.target.collection !== 'ecdhe') {
        throw withRequestId(new KmsError('KMS_BAD_REQUEST', 'a message encrypted to the static key must be create /ecdhe'), request.requestId);
      }
      principal = await this.authenticator.authenticate(request.credential, { requestId: request.requestId, handshakeJwk: request.body.jwk }).catch((error: unknown) => {
        throw withRequestId(asKmsError(error, 'KMS_UNAUTHENTICATED'), request.requestId);
      });
      const channel = await this.channels.negotiate(principal.principalId, request.clientId, request.body.jwk, active.uri, message).catch((error: unknown) => {
        throw withRequestId(asKmsError(error, 'KMS_INTERNAL'), request.requestId);
      });
      const body = {
        status: 201,
        requestId: request.requestId,
        key: { uri: channel.uri, jwk: channel.jwk, userId: principal.principalId, clientId: request.clientId, createDate: channel.createDate.toISOString(), expirationDate: channel.expirationDate.toISOString() },
      };
      const audit = this.auditEvent('ecdhe.create', principal, request.clientId, request.requestId, [channel.uri], 'success');
      return { response: () => this.staticKey.sign(json(body)), audit, unaudited: () => this.signedErrorText(unauditedError(), request.requestId), operation: 'ecdhe.create', status: 201 };
    } catch (error) {
      const failure = asKmsError(error, 'KMS_INTERNAL');
      requestId ??= requestIdOfError(error);
      const audit = this.auditEvent('ecdhe.create', principal, clientId, requestId, [], failure.code === 'KMS_UNAUTHENTICATED' ? 'denied' : 'failure', failure.message);
      return { response: () => this.signedErrorText(failure, requestId), audit, operation: 'ecdhe.create', status: kmsStatusOf(failure.code) };
    }
  }

  /**
   * A request on an established channel, decrypted and parsed; its credential's verification is
   * started (once per distinct credential of the batch, in `credentials`) and awaited by the batch.
   */
  private openOnChannel(
    message: { readonly onChannel: ParsedCompact; readonly kid: string; readonly started: number },
    channel: OpenChannel | undefined,
    activeUri: string,
    credentials: Map<string, Promise<AuthenticatedPrincipal>>,
  ): Outcome | Opened {
    const { started } = message;
    if (!channel) {
      this.observe('channel', 403, started);
      return this.signedError(new KmsError('KMS_CHANNEL_INVALID', 'the ephemeral key is unknown or expired: negotiate a new one'));
    }
    if (channel.row.staticKeyUri !== activeUri) return this.resetOnChannel(channel, started);
    let plaintext: Buffer;
    try {
      plaintext = decryptDirA256Gcm(channel.key, message.onChannel).plaintext;
    } catch {
      this.observe('channel', 400, started);
      return this.signedError(new KmsError('KMS_BAD_REQUEST', 'the message could not be decrypted with the ephemeral key'));
    }
    let request: KmsRequest;
    try {
      request = parseKmsRequest(plaintext, this.uris);
    } catch (error) {
      return this.refusedOnChannel(channel, undefined, error, started);
    }
    const credentialKey = request.credential.bearer ?? JSON.stringify(request.credential.jwk);
    if (!credentials.has(credentialKey)) {
      let verifying: Promise<AuthenticatedPrincipal>;
      try {
        verifying = this.authenticator.authenticate(request.credential, { requestId: request.requestId });
      } catch (error) {
        verifying = Promise.reject(error);
      }
      credentials.set(credentialKey, verifying);
    }
    return { channel, request, credentialKey, started };
  }

  /** An opened request once its credential was verified: ready for its batch's replay recording, or refused. */
  private authenticated(opened: Opened, verified: PromiseSettledResult<AuthenticatedPrincipal>): Outcome | Prepared {
    const { channel, request, started } = opened;
    if (verified.status === 'rejected') return this.refusedOnChannel(channel, undefined, withRequestId(asKmsError(verified.reason, 'KMS_UNAUTHENTICATED'), request.requestId), started);
    const principal = verified.value;
    if (principal.principalId !== channel.row.principalId || request.clientId !== channel.row.clientId) {
      return this.refusedOnChannel(channel, principal, withRequestId(new KmsError('KMS_UNAUTHENTICATED', 'the credential or client does not match the ephemeral key it was sent on'), request.requestId), started);
    }
    return { channel, request, principal, started };
  }

  /**
   * A message on a channel opened under a static key that was rotated since: the signed reset
   * (499), signed with that key, the one the client still trusts. Not audited, as no operation ran.
   */
  private resetOnChannel(channel: OpenChannel, started: number): Outcome {
    this.observe('channel', 499, started);
    return { response: () => this.signedErrorText(staticKeyReset(), undefined, channel.row.staticKeyUri) };
  }

  /** A request on a valid channel refused before dispatch: answered on the channel, and audited. */
  private refusedOnChannel(channel: OpenChannel, principal: AuthenticatedPrincipal | undefined, error: unknown, started: number): Outcome {
    const failure = asKmsError(error, 'KMS_INTERNAL');
    const requestId = requestIdOfError(error);
    this.observe('request', kmsStatusOf(failure.code), started);
    const audit = this.auditEvent('kms.request', principal, channel.row.clientId, requestId, [], failure.code === 'KMS_UNAUTHENTICATED' ? 'denied' : 'failure', failure.message);
    return { response: () => this.encryptedError(channel, failure, requestId), audit };
  }

  /** Key retrievals answered in bulk; each gets the outcome one-by-one dispatch would give it. */
  private async completeRetrievals(run: Prepared[], recordedOf: Map<Prepared, KmsError | undefined>): Promise<Outcome[]> {
    const callers = run.map((p) => {
      try {
        return recordedOf.get(p) ?? this.callerOf(p.principal, p.request.clientId, p.request.credential.onBehalfOf, p.request.requestId);
      } catch (error) {
        return asKmsError(error, 'KMS_INTERNAL');
      }
    });
    const ready = run.flatMap((p, i) => (callers[i] instanceof KmsError ? [] : [{ caller: callers[i] as KmsCaller, request: p.request }]));
    let results: (DispatchResult | KmsError)[];
    try {
      results = await this.dispatcher.dispatchKeyRetrievals(ready);
    } catch (error) {
      results = ready.map(() => asKmsError(error, 'KMS_INTERNAL'));
    }
    let next = 0;
    return run.map((p, i) => (callers[i] instanceof KmsError ? this.settle(p, callers[i] as KmsError) : this.settle(p, undefined, results[next++])));
  }

  /** Dispatches an authenticated request whose requestId was recorded (or refused) with its batch. */
  private async complete(prepared: Prepared, recorded: KmsError | undefined): Promise<Outcome> {
    if (recorded) return this.settle(prepared, recorded);
    const { request, principal } = prepared;
    let caller: KmsCaller;
    try {
      caller = this.callerOf(principal, request.clientId, request.credential.onBehalfOf, request.requestId);
    } catch (error) {
      return this.answer(prepared, 'request', { error });
    }
    try {
      const result = await this.dispatcher.dispatch(caller, request);
      return this.answer(prepared, result.operation, { result, caller });
    } catch (error) {
      return this.answer(prepared, 'request', { error: withRequestId(asKmsError(error, 'KMS_INTERNAL'), request.requestId) });
    }
  }

  /**
   * The outcome of a request that needs no dispatch: refused when its batch was recorded
   * (`recorded`), or a key retrieval answered in bulk (`precomputed`). Synchronous: the bulk of
   * the traffic passes here, and a promise per message costs more than the rest of this.
   */
  private settle(prepared: Prepared, recorded: KmsError | undefined, precomputed?: DispatchResult | KmsError): Outcome {
    const { request, principal } = prepared;
    // The batch's transaction found the channel's static key rotated (by this node or another).
    if (recorded?.code === 'KMS_RESET') return this.resetOnChannel(prepared.channel, prepared.started);
    const operation = precomputed !== undefined ? 'key.retrieve' : 'request';
    try {
      if (recorded) throw withRequestId(recorded, request.requestId);
      const caller = this.callerOf(principal, request.clientId, request.credential.onBehalfOf, request.requestId);
      if (precomputed === undefined) throw new KmsError('KMS_INTERNAL', 'a request settled without a result');
      if (precomputed instanceof KmsError) throw withRequestId(precomputed, request.requestId);
      return this.answer(prepared, precomputed.operation, { result: precomputed, caller });
    } catch (error) {
      return this.answer(prepared, operation, { error });
    }
  }

  /** A dispatched request's answer on its channel and its audit record. */
  private answer(prepared: Prepared, operation: string, settled: { readonly result: DispatchResult; readonly caller: KmsCaller } | { readonly error: unknown }): Outcome {
    const { channel, request, principal, started } = prepared;
    if ('result' in settled) {
      const { result, caller } = settled;
      this.observe(operation, result.status, started);
      const body = { status: result.status, requestId: request.requestId, ...result.fields };
      return {
        response: () => encryptDirA256Gcm(channel.key, channel.row.uri, json(body)),
        audit: this.auditEvent(`kms.${operation}`, principal, request.clientId, request.requestId, result.resources, 'success', undefined, caller.onBehalfOf),
        unaudited: () => this.encryptedError(channel, unauditedError(), request.requestId),
      };
    }
    const failure = asKmsError(settled.error, 'KMS_INTERNAL');
    this.observe(operation, kmsStatusOf(failure.code), started);
    const outcome = failure.code === 'KMS_UNAUTHENTICATED' || failure.code === 'KMS_FORBIDDEN' || failure.code === 'KMS_NOT_FOUND' ? 'denied' : 'failure';
    return {
      response: () => this.encryptedError(channel, failure, request.requestId),
      audit: this.auditEvent(`kms.${operation}`, principal, request.clientId, request.requestId, [], outcome, failure.message),
    };
  }

  /** onBehalfOf (compliance retrieval) is honoured only for principals holding the org-agent role. */
  private callerOf(principal: AuthenticatedPrincipal, clientId: string, onBehalfOf: string | undefined, requestId: string): KmsCaller {
    if (onBehalfOf !== undefined && !principal.roles.includes(ORG_AGENT_ROLE)) {
      throw withRequestId(new KmsError('KMS_FORBIDDEN', 'onBehalfOf requires the org-agent role'), requestId);
    }
    return { principalId: principal.principalId, clientId, roles: principal.roles, ...(onBehalfOf !== undefined && { onBehalfOf }) };
  }

  private auditEvent(action: string, principal: AuthenticatedPrincipal | undefined, clientId: string | undefined, requestId: string | undefined, resources: readonly string[], outcome: AuditEvent['outcome'], reason?: string, onBehalfOf?: string): AuditEvent {
    return {
      action: action.startsWith('kms.') ? action : `kms.${action}`,
      outcome,
      ...(principal && { actor: { type: principal.kind, id: principal.principalId, ...(clientId !== undefined && { clientId }) } }),
      ...(resources.length > 0 && { resources }),
      ...(reason !== undefined && { reason }),
      ...(requestId !== undefined && { requestId }),
      ...(onBehalfOf !== undefined && { details: { onBehalfOf } }),
    };
  }

  private signedError(error: KmsError): Outcome {
    return { response: () => this.signedErrorText(error, requestIdOfError(error)) };
  }

  private signedErrorText(error: KmsError, requestId: string | undefined, keyUri?: string): Promise<CompactSerialization> {
    return this.staticKey.sign(json({ status: kmsStatusOf(error.code), reason: reasonOf(error), ...(requestId !== undefined && { requestId }) }), keyUri);
  }

  private encryptedError(channel: OpenChannel, error: KmsError, requestId: string | undefined): CompactSerialization {
    return encryptDirA256Gcm(channel.key, channel.row.uri, json({ status: kmsStatusOf(error.code), reason: reasonOf(error), ...(requestId !== undefined && { requestId }) }));
  }
}

/** The responses of a batch, in order: as they are when none had to wait (the usual case), else once all are in. */
function allResponses(responses: (CompactSerialization | Promise<CompactSerialization>)[]): CompactSerialization[] | Promise<CompactSerialization[]> {
  return responses.every((r) => typeof r === 'string') ? (responses as CompactSerialization[]) : Promise.all(responses);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Errors of the layers below, mapped once: an outage of the vault, the database or the audit log
 * is 503 (retry later, maybe on another node); anything else unexpected is 500. The authenticator
 * throws KmsErrors itself.
 */
function asKmsError(error: unknown, fallback: KmsError['code']): KmsError {
  if (error instanceof KmsError) return error;
  const outage =
    (error instanceof VaultError && (error.code === 'VAULT_HSM_UNAVAILABLE' || error.code === 'VAULT_HSM_ERROR' || error.code === 'VAULT_PIN_LOCKED')) ||
    (error instanceof PersistenceError && error.code === 'DB_UNAVAILABLE') ||
    error instanceof AuditError;
  if (outage) return new KmsError('KMS_UNAVAILABLE', 'the KMS is temporarily unavailable', { cause: error });
  return new KmsError(fallback, fallback === 'KMS_UNAUTHENTICATED' ? 'the credential was refused' : 'internal error', { cause: error });
}

/** The reason sent to the client: the message of client errors; nothing internal for 5xx. */
function reasonOf(error: KmsError): string {
  const status = kmsStatusOf(error.code);
  return status >= 500 && status !== 499 ? (error.code === 'KMS_UNAVAILABLE' ? 'the KMS is temporarily unavailable' : 'internal error') : error.message;
}

function unauditedError(): KmsError {
  return new KmsError('KMS_UNAVAILABLE', 'the operation could not be audited and was not completed');
}
