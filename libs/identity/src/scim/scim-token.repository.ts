import { Database, type Tx } from '@realm/persistence';
import { ScimTokenEntity, type ScimTokenRow } from './scim.entities.js';

export class ScimTokenRepository {
  constructor(private readonly db: Database) {}

  find(id: string): Promise<ScimTokenRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<ScimTokenRow>(ScimTokenEntity.name).findOneBy({ id }));
  }

  /** Every token, oldest first (a handful: one per provisioning client). */
  list(): Promise<ScimTokenRow[]> {
    return this.db.read((tx) => tx.manager.getRepository<ScimTokenRow>(ScimTokenEntity.name).find({ order: { createdAt: 'ASC', id: 'ASC' } }));
  }

  async insert(row: ScimTokenRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<ScimTokenRow>(ScimTokenEntity.name).insert(row);
  }

  /** Revokes the token if it is not revoked yet; false when it was (or does not exist). */
  async revoke(id: string, at: Date, tx: Tx): Promise<boolean> {
    const result = await tx.manager.getRepository<ScimTokenRow>(ScimTokenEntity.name).createQueryBuilder().update().set({ revokedAt: at }).where('id = :id AND revoked_at IS NULL', { id }).execute();
    return (result.affected ?? 0) === 1;
  }
}
