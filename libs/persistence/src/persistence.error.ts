import { RealmError } from '@realm/errors';

export type PersistenceErrorCode = 'DB_UNAVAILABLE' | 'DB_MIGRATION_FAILED' | 'DB_MIGRATION_LOCKED';

export class PersistenceError extends RealmError<PersistenceErrorCode> {
  override readonly name = 'PersistenceError';
}
