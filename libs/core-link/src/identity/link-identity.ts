import { createPrivateKey, generateKeyPair, randomUUID, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import type { ServiceCertificateAuthority } from '@realm/identity';
import { type Database, isUniqueViolation } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { CoreLinkError } from '../core-link.error.js';
import type { LinkIdentityRow } from './link-identity.entities.js';
import { LinkIdentityRepository } from './link-identity.repository.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** The service principal the link certificate names (`service:core-link`, URI SAN). */
export const LINK_SERVICE_NAME = 'core-link';
const DAY_MS = 86_400_000;

export function linkKeyUri(id: string): string {
  return `realm:core-link/identity/${id}`;
}

/** What a node presents in the TLS handshake. The key lives in memory only, never on disk in clear. */
export interface LinkCredentials {
  readonly id: string;
  /** Leaf then service CA, PEM (RFC 8446 §4.4.2: the chain the core verifies against its applianceCa). */
  readonly certificateChainPem: string;
  /** PKCS#8 PEM, opened from the vault for the TLS stack. */
  readonly privateKeyPem: string;
  readonly serial: string;
  readonly fingerprint256: string;
  readonly notAfter: Date;
  /** When a node renews it (a third of the validity before notAfter). */
  readonly renewAt: Date;
}

export interface LinkIdentityOptions {
  /** Validity of each certificate (coreLink.certificateDays). */
  readonly validityDays: number;
  readonly clock?: () => number;
}

/**
 * The appliance's client certificate for the core (mutual TLS, docs/narrow-api.md §2.1), shared by
 * every node: an EC P-256 key generated here, certified by the appliance's service CA for the
 * service `core-link`, its PKCS#8 sealed by the vault. Renewed when a third of its validity is
 * left, by whichever node notices first; a node that loses the race uses the winner's and revokes
 * the certificate it had issued for nothing.
 */
export class LinkIdentity {
  private readonly repository: LinkIdentityRepository;
  private readonly clock: () => number;
  private cached: LinkCredentials | undefined;

  constructor(
    private readonly db: Database,
    private readonly vault: KeyVault,
    private readonly serviceCa: ServiceCertificateAuthority,
    private readonly options: LinkIdentityOptions,
  ) {
    this.repository = new LinkIdentityRepository(db);
    this.clock = options.clock ?? Date.now;
  }

  /** The credentials to present now: the stored ones, or new ones when none exist or they are due for renewal. */
  async current(): Promise<LinkCredentials> {
    const now = this.clock();
    if (this.cached && this.cached.renewAt.getTime() > now) return this.cached;
    let row = await this.repository.active();
    if (!row || renewAt(row).getTime() <= now) row = await this.issue(row);
    if (this.cached?.id !== row.id) this.cached = await this.open(row);
    return this.cached;
  }

  private async issue(due: LinkIdentityRow | null): Promise<LinkIdentityRow> {
    const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    let issued;
    try {
      issued = await this.serviceCa.issueServiceCertificate(LINK_SERVICE_NAME, publicKey, { validityDays: this.options.validityDays }, { actor: { type: 'system', id: 'core-link' } });
    } catch (error) {
      throw new CoreLinkError('CORE_LINK_IDENTITY', `the service CA refused to certify the link key for service ${LINK_SERVICE_NAME}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const id = randomUUID();
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const sealed = await this.vault.seal(linkKeyUri(id), pkcs8);
    pkcs8.fill(0);
    const row: LinkIdentityRow = {
      id,
      certificate: issued.certificatePem,
      caCertificate: new X509Certificate(Buffer.from(issued.x5c[1], 'base64')).toString(),
      keyUri: linkKeyUri(id),
      serial: issued.serialNumber,
      notAfter: issued.notAfter,
      state: 'active',
      createdAt: new Date(this.clock()),
    };
    let won = false;
    try {
      won = await this.db.write(async (tx) => {
        const active = await this.repository.active(tx);
        // Another node renewed in the meantime.
        if (active && active.id !== due?.id) return false;
        if (active) {
          await this.repository.retire(active.id, tx);
          // The retired key is never presented again; open TLS sessions do not need it.
          await this.vault.deleteKey(active.keyUri, tx);
        }
        await this.repository.insert(row, tx);
        await this.vault.store([sealed], tx);
        return true;
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    if (won) return row;
    await this.serviceCa.revokeServiceCertificate(issued.serialNumber, { actor: { type: 'system', id: 'core-link' } }).catch(() => undefined);
    const winner = await this.repository.active();
    if (!winner) throw new CoreLinkError('CORE_LINK_IDENTITY', 'the link identity was renewed by another node but cannot be read back');
    return winner;
  }

  private async open(row: LinkIdentityRow): Promise<LinkCredentials> {
    const der = await this.vault.getKey(row.keyUri);
    if (!der) throw new CoreLinkError('CORE_LINK_IDENTITY', `the vault holds no private key for link identity ${row.id}`);
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    const leaf = new X509Certificate(row.certificate);
    if (!leaf.checkPrivateKey(privateKey)) throw new CoreLinkError('CORE_LINK_IDENTITY', `the stored certificate of link identity ${row.id} does not match the key the vault protects`);
    return {
      id: row.id,
      certificateChainPem: `${leaf.toString()}${new X509Certificate(row.caCertificate).toString()}`,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      serial: row.serial,
      fingerprint256: leaf.fingerprint256,
      notAfter: row.notAfter,
      renewAt: renewAt(row),
    };
  }
}

function renewAt(row: LinkIdentityRow): Date {
  const lifetime = row.notAfter.getTime() - row.createdAt.getTime();
  return new Date(row.notAfter.getTime() - Math.max(lifetime / 3, DAY_MS / 24));
}
