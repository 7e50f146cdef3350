import type { Database } from '@realm/persistence';
import { OAuthClientEntity, type OAuthClientRow } from './oauth.entities.js';

export class OAuthClientRepository {
  constructor(private readonly db: Database) {}

  find(clientId: string): Promise<OAuthClientRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<OAuthClientRow>(OAuthClientEntity.name).findOneBy({ clientId }));
  }

  list(): Promise<OAuthClientRow[]> {
    return this.db.read((tx) => tx.manager.getRepository<OAuthClientRow>(OAuthClientEntity.name).find({ order: { name: 'ASC' } }));
  }

  async insert(row: OAuthClientRow): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<OAuthClientRow>(OAuthClientEntity.name).insert(row));
  }

  /** Deletes the client; returns whether it existed. */
  async delete(clientId: string): Promise<boolean> {
    const result = await this.db.write((tx) => tx.manager.getRepository<OAuthClientRow>(OAuthClientEntity.name).delete({ clientId }));
    return (result.affected ?? 0) === 1;
  }
}
