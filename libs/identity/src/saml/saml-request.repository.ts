import { LessThanOrEqual } from 'typeorm';
import { type Database, isUniqueViolation } from '@realm/persistence';
import { SamlRequestEntity, type SamlRequestRow } from './saml-request.entity.js';

/** Pending AuthnRequest ids, shared by every node through the database. */
export class SamlRequestRepository {
  constructor(private readonly db: Database) {}

  /** Records a request and, in the same transaction, forgets every request that has expired. */
  async insert(row: SamlRequestRow, now: Date): Promise<void> {
    await this.db.write(async (tx) => {
      const repository = tx.manager.getRepository<SamlRequestRow>(SamlRequestEntity.name);
      await repository.delete({ expiresAt: LessThanOrEqual(now) });
      await repository.insert(row);
    });
  }

  /** Inserts the row unless one with its id exists; false when it does (the id was used before). */
  async claim(row: SamlRequestRow): Promise<boolean> {
    try {
      await this.insert(row, row.createdAt);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  find(id: string): Promise<SamlRequestRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<SamlRequestRow>(SamlRequestEntity.name).findOneBy({ id }));
  }

  /**
   * Deletes the request; true only for the one caller whose DELETE removed the row. Two nodes
   * receiving the same response at once both reach this statement, and the database lets exactly
   * one of them delete the row.
   */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.write((tx) => tx.manager.getRepository<SamlRequestRow>(SamlRequestEntity.name).delete({ id }));
    return (result.affected ?? 0) === 1;
  }
}
