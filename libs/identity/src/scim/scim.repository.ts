import { In } from 'typeorm';
import { Database, type Tx } from '@realm/persistence';
import { ScimGroupEntity, ScimGroupMemberEntity, type ScimGroupMemberRow, type ScimGroupRow, ScimUserEntity, type ScimUserRow } from './scim.entities.js';

/** SCIM's own rows: the SCIM attributes of users, groups and their members. */
export class ScimRepository {
  constructor(private readonly db: Database) {}

  findUser(principalId: string, tx?: Tx): Promise<ScimUserRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<ScimUserRow>(ScimUserEntity.name).findOneBy({ principalId }));
  }

  findUsers(principalIds: readonly string[]): Promise<ScimUserRow[]> {
    if (principalIds.length === 0) return Promise.resolve([]);
    return this.db.read((t) => t.manager.getRepository<ScimUserRow>(ScimUserEntity.name).findBy({ principalId: In([...principalIds]) }));
  }

  async saveUser(row: ScimUserRow, tx: Tx): Promise<void> {
    const repository = tx.manager.getRepository<ScimUserRow>(ScimUserEntity.name);
    const { principalId, ...rest } = row;
    const updated = await repository.update({ principalId }, rest);
    if ((updated.affected ?? 0) === 0) await repository.insert(row);
  }

  findGroup(id: string, tx?: Tx): Promise<ScimGroupRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).findOneBy({ id }));
  }

  /** The group, locked for the rest of the transaction on PostgreSQL, so that member changes serialise. */
  lockGroup(id: string, tx: Tx): Promise<ScimGroupRow | null> {
    const query = tx.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).createQueryBuilder('g').where('g.id = :id', { id });
    if (tx.driver === 'postgres') query.setLock('pessimistic_write');
    return query.getOne();
  }

  findGroupByDisplayName(displayName: string): Promise<ScimGroupRow | null> {
    return this.db.read((t) => t.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).findOneBy({ displayName }));
  }

  findGroups(ids: readonly string[]): Promise<ScimGroupRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.read((t) => t.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).findBy({ id: In([...ids]) }));
  }

  listGroups(offset: number, limit: number): Promise<ScimGroupRow[]> {
    return this.db.read((t) => t.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).find({ order: { createdAt: 'ASC', id: 'ASC' }, skip: offset, take: limit }));
  }

  countGroups(): Promise<number> {
    return this.db.read((t) => t.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).count());
  }

  async insertGroup(row: ScimGroupRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).insert(row);
  }

  async updateGroup(row: ScimGroupRow, tx: Tx): Promise<void> {
    const { id, ...rest } = row;
    await tx.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).update({ id }, rest);
  }

  async deleteGroup(id: string, tx: Tx): Promise<void> {
    await tx.manager.getRepository<ScimGroupMemberRow>(ScimGroupMemberEntity.name).delete({ groupId: id });
    await tx.manager.getRepository<ScimGroupRow>(ScimGroupEntity.name).delete({ id });
  }

  /** Members of the groups, in no particular order. */
  membersOf(groupIds: readonly string[], tx?: Tx): Promise<ScimGroupMemberRow[]> {
    if (groupIds.length === 0) return Promise.resolve([]);
    return this.with(tx, (t) => t.manager.getRepository<ScimGroupMemberRow>(ScimGroupMemberEntity.name).findBy({ groupId: In([...groupIds]) }));
  }

  /** The memberships of the users. */
  membershipsOf(principalIds: readonly string[], tx?: Tx): Promise<ScimGroupMemberRow[]> {
    if (principalIds.length === 0) return Promise.resolve([]);
    return this.with(tx, (t) => t.manager.getRepository<ScimGroupMemberRow>(ScimGroupMemberEntity.name).findBy({ principalId: In([...principalIds]) }));
  }

  async addMembers(groupId: string, principalIds: readonly string[], tx: Tx): Promise<void> {
    if (principalIds.length === 0) return;
    const repository = tx.manager.getRepository<ScimGroupMemberRow>(ScimGroupMemberEntity.name);
    for (const chunk of chunks(principalIds, 500)) await repository.insert(chunk.map((principalId) => ({ groupId, principalId })));
  }

  async removeMembers(groupId: string, principalIds: readonly string[], tx: Tx): Promise<void> {
    const repository = tx.manager.getRepository<ScimGroupMemberRow>(ScimGroupMemberEntity.name);
    for (const chunk of chunks(principalIds, 500)) await repository.delete({ groupId, principalId: In(chunk) });
  }

  async removeUserFromAllGroups(principalId: string, tx: Tx): Promise<void> {
    await tx.manager.getRepository<ScimGroupMemberRow>(ScimGroupMemberEntity.name).delete({ principalId });
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
