export { Database, isDeadlock, isForeignKeyViolation, isUniqueViolation, type DatabaseOptions, type MigrationClass, type Tx } from './database.js';
export { PersistenceError, type PersistenceErrorCode } from './persistence.error.js';
export { PersistenceModule } from './persistence.module.js';
export {
  defineEntity,
  driverOfRunner,
  portableTable,
  sqlType,
  toEntitySchema,
  type Driver,
  type PortableColumn,
  type PortableEntity,
  type PortableForeignKey,
  type PortableIndex,
  type PortableTableSpec,
  type PortableType,
} from './portable.js';
export { RowStatements } from './row-statements.js';
