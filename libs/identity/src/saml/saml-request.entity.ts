import { defineEntity } from '@realm/persistence';

/**
 * An AuthnRequest this SP sent and whose Response has not arrived yet (SAML core §3.2.2:
 * InResponseTo). Kept in the database so that any node can receive the response; deleted when a
 * response uses it, so each id answers once.
 */
export interface SamlRequestRow {
  /** The AuthnRequest ID (node-saml: `_` + 20 random bytes in hex). */
  id: string;
  createdAt: Date;
  /** createdAt + identity.saml.requestLifetime: a response after this instant is refused. */
  expiresAt: Date;
}

export const SamlRequestEntity = defineEntity<SamlRequestRow>({
  name: 'identity_saml_requests',
  columns: {
    id: { column: 'id', type: 'string', length: 128, primary: true },
    createdAt: { column: 'created_at', type: 'timestamp' },
    expiresAt: { column: 'expires_at', type: 'timestamp' },
  },
});
