import { Database, type Tx } from '@realm/persistence';
import { ServiceCertificateEntity, type ServiceCertificateRow } from '../identity.entities.js';

export class ServiceCertificateRepository {
  constructor(private readonly db: Database) {}

  findByFingerprint(fingerprintSha256: string, tx?: Tx): Promise<ServiceCertificateRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<ServiceCertificateRow>(ServiceCertificateEntity.name).findOneBy({ fingerprintSha256 }));
  }

  findBySerial(serial: string, tx?: Tx): Promise<ServiceCertificateRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<ServiceCertificateRow>(ServiceCertificateEntity.name).findOneBy({ serial }));
  }

  listByPrincipal(principalId: string): Promise<ServiceCertificateRow[]> {
    return this.db.read((tx) => tx.manager.getRepository<ServiceCertificateRow>(ServiceCertificateEntity.name).find({ where: { principalId }, order: { createdAt: 'ASC' } }));
  }

  async insert(row: ServiceCertificateRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<ServiceCertificateRow>(ServiceCertificateEntity.name).insert(row);
  }

  /** Marks the certificate revoked unless it already is; returns whether this call revoked it. */
  async revoke(serial: string, revokedAt: Date, tx: Tx): Promise<boolean> {
    const result = await tx.manager.getRepository<ServiceCertificateRow>(ServiceCertificateEntity.name).update({ serial, revoked: false }, { revoked: true, revokedAt });
    return (result.affected ?? 0) === 1;
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}
