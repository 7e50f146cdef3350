import { defineEntity } from '@realm/persistence';

/**
 * One artifact of the authorization server (oidc-provider's models: AuthorizationCode, DeviceCode,
 * RefreshToken, Grant, Session, Interaction, ...), stored so that any appliance node can serve any
 * step of a flow. Refresh tokens and codes are stored by their id (the random value oidc-provider
 * hands out is the id itself for opaque artifacts), so the table is as sensitive as a password
 * table: it lives in the appliance database only and never reaches a log.
 */
export interface OAuthArtifactRow {
  /** oidc-provider's model name. */
  model: string;
  id: string;
  payload: Record<string, unknown>;
  /** The grant every token of one authorization (one refresh-token family) shares. */
  grantId: string | null;
  /** Device flow (RFC 8628 §3.2) user code, normalised by oidc-provider. */
  userCode: string | null;
  /** Session uid (oidc-provider Session model). */
  uid: string | null;
  /** Set once by {@link OAuthArtifactRepository.consume}; a second use revokes the whole grant. */
  consumedAt: Date | null;
  /** For Grant rows: the principal's credential epoch when the grant was made; tokens die with it. */
  credentialEpoch: number | null;
  expiresAt: Date;
}

/** A first-party client registered with `realmctl client create` (no dynamic registration). */
export interface OAuthClientRow {
  clientId: string;
  name: string;
  /** Lower-case hex SHA-256 of the secret of a confidential client; null for a public client. */
  secretSha256: string | null;
  redirectUris: string[];
  grantTypes: string[];
  createdAt: Date;
}

export const OAuthArtifactEntity = defineEntity<OAuthArtifactRow>({
  name: 'identity_oauth_artifacts',
  columns: {
    model: { column: 'model', type: 'string', length: 48, primary: true },
    id: { column: 'id', type: 'string', length: 128, primary: true },
    payload: { column: 'payload', type: 'json' },
    grantId: { column: 'grant_id', type: 'string', length: 128, nullable: true },
    userCode: { column: 'user_code', type: 'string', length: 64, nullable: true },
    uid: { column: 'uid', type: 'string', length: 128, nullable: true },
    consumedAt: { column: 'consumed_at', type: 'timestamp', nullable: true },
    credentialEpoch: { column: 'credential_epoch', type: 'int', nullable: true },
    expiresAt: { column: 'expires_at', type: 'timestamp' },
  },
});

export const OAuthClientEntity = defineEntity<OAuthClientRow>({
  name: 'identity_oauth_clients',
  columns: {
    clientId: { column: 'client_id', type: 'string', length: 64, primary: true },
    name: { column: 'name', type: 'string', length: 128 },
    secretSha256: { column: 'secret_sha256', type: 'string', length: 64, nullable: true },
    redirectUris: { column: 'redirect_uris', type: 'json' },
    grantTypes: { column: 'grant_types', type: 'json' },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const OAUTH_ENTITIES = [OAuthArtifactEntity, OAuthClientEntity];
