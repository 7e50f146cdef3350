import { IsNull, LessThanOrEqual, type Repository } from 'typeorm';
import type { Database } from '@realm/persistence';
import { OAuthArtifactEntity, type OAuthArtifactRow } from './oauth.entities.js';

// The JSON payload column is a plain object; TypeORM's deep-partial type cannot see that.
type StoredFields = Omit<OAuthArtifactRow, 'consumedAt' | 'credentialEpoch'>;

/** oidc-provider's artifacts in one table (see {@link OAuthArtifactRow}). */
export class OAuthArtifactRepository {
  constructor(private readonly db: Database) {}

  /**
   * Inserts the artifact or replaces its payload and expiry. `consumed_at` and `credential_epoch`
   * are never overwritten here: a re-save must not un-consume a code or move a grant's epoch.
   */
  async upsert(row: StoredFields): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).upsert(row as Parameters<Repository<OAuthArtifactRow>['upsert']>[0], ['model', 'id']));
  }

  find(model: string, id: string): Promise<OAuthArtifactRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).findOneBy({ model, id }));
  }

  findByUserCode(model: string, userCode: string): Promise<OAuthArtifactRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).findOneBy({ model, userCode }));
  }

  findByUid(model: string, uid: string): Promise<OAuthArtifactRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).findOneBy({ model, uid }));
  }

  /**
   * Marks the artifact consumed unless it already is, in one conditional UPDATE: of two nodes
   * exchanging the same code or refresh token at the same moment exactly one gets `true`.
   */
  async consume(model: string, id: string, at: Date): Promise<boolean> {
    const result = await this.db.write((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).update({ model, id, consumedAt: IsNull() }, { consumedAt: at }));
    return (result.affected ?? 0) === 1;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).delete({ model, id }));
  }

  /** Deletes the artifacts of `model` issued under `grantId` (when `model` is omitted: of every model, and the grant). */
  async deleteByGrantId(grantId: string, model?: string): Promise<number> {
    const result = await this.db.write(async (tx) => {
      const repository = tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name);
      if (model !== undefined) return repository.delete({ model, grantId });
      const tokens = await repository.delete({ grantId });
      const grant = await repository.delete({ model: 'Grant', id: grantId });
      return { affected: (tokens.affected ?? 0) + (grant.affected ?? 0) };
    });
    return result.affected ?? 0;
  }

  /** Records the principal's credential epoch on a grant row. */
  async setCredentialEpoch(grantId: string, credentialEpoch: number): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).update({ model: 'Grant', id: grantId }, { credentialEpoch }));
  }

  /** Deletes every artifact whose expiry has passed; returns how many. */
  async purgeExpired(now: Date): Promise<number> {
    const result = await this.db.write((tx) => tx.manager.getRepository<OAuthArtifactRow>(OAuthArtifactEntity.name).delete({ expiresAt: LessThanOrEqual(now) }));
    return result.affected ?? 0;
  }
}
