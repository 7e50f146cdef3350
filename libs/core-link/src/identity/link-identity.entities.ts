import { defineEntity } from '@realm/persistence';

export type LinkIdentityState = 'active' | 'retired';

/**
 * The appliance's link identity: a client certificate from the service CA that every node of the
 * appliance presents to the core (docs/narrow-api.md §2.1). Its private key is sealed in the vault
 * under {@link keyUri}; nothing else of it is stored.
 */
export interface LinkIdentityRow {
  id: string;
  /** The leaf certificate, PEM. */
  certificate: string;
  /** The issuing service CA certificate, PEM (sent after the leaf in the TLS Certificate message). */
  caCertificate: string;
  /** Where the vault keeps the PKCS#8 private key. */
  keyUri: string;
  serial: string;
  notAfter: Date;
  state: LinkIdentityState;
  createdAt: Date;
}

export const LinkIdentityEntity = defineEntity<LinkIdentityRow>({
  name: 'core_link_identities',
  columns: {
    id: { column: 'id', type: 'string', length: 36, primary: true },
    certificate: { column: 'certificate', type: 'text' },
    caCertificate: { column: 'ca_certificate', type: 'text' },
    keyUri: { column: 'key_uri', type: 'string', length: 128 },
    serial: { column: 'serial', type: 'string', length: 64 },
    notAfter: { column: 'not_after', type: 'timestamp' },
    state: { column: 'state', type: 'string', length: 16 },
    createdAt: { column: 'created_at', type: 'timestamp' },
  },
});

export const CORE_LINK_ENTITIES = [LinkIdentityEntity];
