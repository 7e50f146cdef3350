import { defineEntity } from '@realm/persistence';
import { SamlRequestEntity } from './saml/saml-request.entity.js';
import { SessionEntity } from './sessions/session.entity.js';
import { SCIM_ENTITIES } from './scim/scim.entities.js';
import { OAUTH_ENTITIES } from './oauth/oauth.entities.js';

export type PrincipalKind = 'user' | 'service';
export type PrincipalStatus = 'active' | 'disabled' | 'deleted';
export type SigningKeyState = 'active' | 'retired';
export type ServiceCaState = 'active' | 'retired';

/** A user or a service: the subject of tokens and certificates, the userId/authId of the KMS. */
export interface PrincipalRow {
  /** `user:<uuid>` or `service:<name>`; never reused, so KMS authorizations never pass to someone else. */
  id: string;
  kind: PrincipalKind;
  /** userName (normalised) or service name; unique per kind among principals not deleted. */
  name: string;
  email: string | null;
  status: PrincipalStatus;
  roles: string[];
  /** Bumped on disable, delete and role change: tokens carry it (`cep`) and die with it. */
  credentialEpoch: number;
  createdAt: Date;
  updatedAt: Date;
}

/** An ES256 token-signing key; its private half is sealed in the vault. */
export interface SigningKeyRow {
  kid: string;
  alg: string;
  /** The public key as an RFC 7517 JWK (kty, crv, x, y). */
  publicJwk: Record<string, string>;
  state: SigningKeyState;
  createdAt: Date;
  retiredAt: Date | null;
  /** Tokens signed with this key are refused after this instant; null while the key is active. */
  notAfter: Date | null;
}

/** The CA that certifies services (bots, the indexer); its private key is sealed in the vault. */
export interface ServiceCaRow {
  id: string;
  /** The self-signed CA certificate, PEM. */
  certificate: string;
  state: ServiceCaState;
  createdAt: Date;
}

/** A certificate the service CA issued: looked up on every use, so revocation is immediate. */
export interface ServiceCertificateRow {
  /** Lower-case hex of the positive serial number, without leading zero octets. */
  serial: string;
  caId: string;
  principalId: string;
  /** Lower-case hex SHA-256 of the certificate DER. */
  fingerprintSha256: string;
  notAfter: Date;
  revoked: boolean;
  revokedAt: Date | null;
  createdAt: Date;
}

export const PrincipalEntity = defineEntity<PrincipalRow>({
  name: 'identity_principals',
  columns: {
    id: { column: 'id', type: 'string', length: 128, primary: true },
    kind: { column: 'kind', type: 'string', length: 16 },
    name: { column: 'name', type: 'string', length: 256 },
    email: { column: 'email', type: 'string', length: 320, nullable: true },
    status: { column: 'status', type: 'string', length: 16 },
    roles: { column: 'roles', type: 'json' },
    credentialEpoch: { column: 'credential_epoch', type: 'int' },
    createdAt: { column: 'created_at', type: 'timestamp' },
    updatedAt: { column: 'updated_at', type: 'timestamp' },
  },
});

export const SigningKeyEntity = defineEntity<SigningKeyRow>({
  name: 'identity_signing_keys',
  columns: {
    kid: { column: 'kid', type: 'string', length: 64, primary: true },
    alg: { column: 'alg', type: 'string', length: 16 },
    publicJwk: { column: 'public_jwk', type: 'json' },
    state: { column: 'state', type: 'string', length: 16 },
    createdAt: { column: 'created_at', type: 'timestamp' },
    retiredAt: { column: 'retired_at', type: 'timestamp', nullable: true },
    notAfter: { column: 'not_after', type: 'timestamp', nullable: true },
  },
});

export const ServiceCaEntity = defineEntity<ServiceCaRow>({
  name: 'identity_service_cas',
  columns: {
    id: { column: 'id', type: 'string', length: 36, primary: true },
    certificate: { column: 'certificate', type: 'text' },
    state: { column: 'state', type: 'string', length: 16 },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const ServiceCertificateEntity = defineEntity<ServiceCertificateRow>({
  name: 'identity_service_certificates',
  columns: {
    serial: { column: 'serial', type: 'string', length: 40, primary: true },
    caId: { column: 'ca_id', type: 'string', length: 36 },
    principalId: { column: 'principal_id', type: 'string', length: 128 },
    fingerprintSha256: { column: 'fingerprint_sha256', type: 'string', length: 64 },
    notAfter: { column: 'not_after', type: 'timestamp' },
    revoked: { column: 'revoked', type: 'bool' },
    revokedAt: { column: 'revoked_at', type: 'timestamp', nullable: true },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const IDENTITY_ENTITIES = [PrincipalEntity, SigningKeyEntity, ServiceCaEntity, ServiceCertificateEntity, SamlRequestEntity, SessionEntity, ...SCIM_ENTITIES, ...OAUTH_ENTITIES];
