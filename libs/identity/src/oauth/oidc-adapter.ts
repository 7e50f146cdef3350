import type { OAuthArtifactRepository } from './oauth-artifact.repository.js';
import type { OAuthClientService } from './oauth-client.service.js';

/** What oidc-provider stores through its Adapter interface (see its docs, "adapter"). */
export interface ArtifactPayload {
  readonly grantId?: string;
  readonly userCode?: string;
  readonly uid?: string;
  readonly consumed?: unknown;
  readonly [field: string]: unknown;
}

/** oidc-provider's Adapter interface, one instance per model name. */
export interface OidcAdapter {
  upsert(id: string, payload: ArtifactPayload, expiresIn: number): Promise<void>;
  find(id: string): Promise<ArtifactPayload | Record<string, unknown> | undefined>;
  findByUserCode(userCode: string): Promise<ArtifactPayload | undefined>;
  findByUid(uid: string): Promise<ArtifactPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export interface OidcAdapterDependencies {
  readonly artifacts: OAuthArtifactRepository;
  readonly clients: OAuthClientService;
  readonly clock: () => number;
  /** oidc-provider's invalid_grant error (RFC 6749 §5.2), answered 400 by its token endpoint. */
  readonly invalidGrant: new (description?: string) => Error;
  /** Called when a second use of a code or refresh token revoked its grant (before the refusal is thrown). */
  readonly onReuse: (model: string, grantId: string | undefined) => void;
}

/** Longest id oidc-provider makes is 43 characters (256-bit base64url); anything longer is not ours. */
const MAX_ID_LENGTH = 128;

/**
 * The database adapter of oidc-provider: every artifact in one table through
 * {@link OAuthArtifactRepository}, so that any appliance node can serve any step of a flow.
 *
 * Three models are special:
 * - `Client` reads the first-party clients `realmctl client create` registered; there is no
 *   dynamic registration, so it is read-only.
 * - `AccessToken` stores nothing: the token endpoint hands out the access token TokenService
 *   minted (see oauth-server.ts), never the opaque one oidc-provider made, so that one is
 *   discarded rather than kept as a dead row.
 * - `consume` is a conditional UPDATE: if another request consumed the code or refresh token first
 *   (two nodes, the same value, the same moment), this one revokes the whole grant, as a replay
 *   deserves (RFC 6749 §4.1.2 and §10.4, RFC 9700 §4.14.2), and is refused with invalid_grant.
 */
export function oidcAdapterClass(dependencies: OidcAdapterDependencies): new (model: string) => OidcAdapter {
  const { artifacts, clients, clock, invalidGrant, onReuse } = dependencies;

  return class DatabaseAdapter implements OidcAdapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: ArtifactPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are registered with realmctl client create, not through the adapter');
      if (this.model === 'AccessToken') return;
      const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 1;
      await artifacts.upsert({
        model: this.model,
        id,
        payload: { ...payload },
        grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
        userCode: typeof payload.userCode === 'string' ? payload.userCode : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        expiresAt: new Date(clock() + lifetime * 1000),
      });
    }

    async find(id: string): Promise<Record<string, unknown> | undefined> {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return undefined;
      if (this.model === 'Client') return clients.providerMetadata(id);
      if (this.model === 'AccessToken') return undefined;
      return this.live(await artifacts.find(this.model, id));
    }

    async findByUserCode(userCode: string): Promise<ArtifactPayload | undefined> {
      if (typeof userCode !== 'string' || userCode.length === 0 || userCode.length > 64) return undefined;
      return this.live(await artifacts.findByUserCode(this.model, userCode));
    }

    async findByUid(uid: string): Promise<ArtifactPayload | undefined> {
      if (typeof uid !== 'string' || uid.length === 0 || uid.length > MAX_ID_LENGTH) return undefined;
      return this.live(await artifacts.findByUid(this.model, uid));
    }

    async consume(id: string): Promise<void> {
      if (await artifacts.consume(this.model, id, new Date(clock()))) return;
      const row = await artifacts.find(this.model, id);
      if (row?.grantId) await artifacts.deleteByGrantId(row.grantId);
      onReuse(this.model, row?.grantId ?? undefined);
      throw new invalidGrant(`${this.model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`);
    }

    async destroy(id: string): Promise<void> {
      await artifacts.destroy(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await artifacts.deleteByGrantId(grantId, this.model);
    }

    /** The payload as oidc-provider expects it (with `consumed` once consumed), unless expired. */
    private live(row: { payload: Record<string, unknown>; consumedAt: Date | null; expiresAt: Date } | null): ArtifactPayload | undefined {
      if (!row || row.expiresAt.getTime() <= clock()) return undefined;
      return { ...row.payload, ...(row.consumedAt !== null && { consumed: Math.floor(row.consumedAt.getTime() / 1000) }) };
    }
  };
}
