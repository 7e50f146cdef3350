import { LessThan, LessThanOrEqual } from 'typeorm';
import type { Database } from '@realm/persistence';
import { SessionEntity, type SessionRow } from './session.entity.js';

/** The appliance's browser sessions, by the SHA-256 of their id. */
export class SessionRepository {
  constructor(private readonly db: Database) {}

  /**
   * Stores a new session and, in the same transaction, deletes the sessions that have timed out
   * (idle since `idleBefore`, or created before `createdBefore`).
   */
  async insert(row: SessionRow, idleBefore: Date, createdBefore: Date): Promise<void> {
    await this.db.write(async (tx) => {
      const repository = tx.manager.getRepository<SessionRow>(SessionEntity.name);
      await repository.delete([{ lastSeenAt: LessThanOrEqual(idleBefore) }, { createdAt: LessThanOrEqual(createdBefore) }]);
      await repository.insert(row);
    });
  }

  find(idHash: string): Promise<SessionRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<SessionRow>(SessionEntity.name).findOneBy({ idHash }));
  }

  /** Moves lastSeenAt forward (never back, should two requests of the session race). */
  async touch(idHash: string, lastSeenAt: Date): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<SessionRow>(SessionEntity.name).update({ idHash, lastSeenAt: LessThan(lastSeenAt) }, { lastSeenAt }));
  }

  async delete(idHash: string): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<SessionRow>(SessionEntity.name).delete({ idHash }));
  }

  /** Ends every session of the principal (logout everywhere, or a principal gone). */
  async deleteOfPrincipal(principalId: string): Promise<number> {
    const result = await this.db.write((tx) => tx.manager.getRepository<SessionRow>(SessionEntity.name).delete({ principalId }));
    return result.affected ?? 0;
  }
}
