import type { DataSource, EntityManager } from 'typeorm';

/** The part of better-sqlite3's API used directly (its statements run synchronously). */
export interface SqliteStatement {
  readonly reader: boolean;
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): unknown;
}

export interface SqliteConnection {
  exec(sql: string): unknown;
  pragma(source: string): unknown;
  prepare(sql: string): SqliteStatement;
}

// Statements prepared once per connection and text (the texts are the repositories' own, few).
const STATEMENT_CACHE_LIMIT = 256;
const prepared = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();

/**
 * The better-sqlite3 connection under a TypeORM SQLite data source (the process's writer, or its
 * query-only reader): one connection per data source, so a statement run here is part of whatever
 * transaction TypeORM's runner has open on it. Used for
 * the hot path only (transaction control, `RowStatements`): TypeORM's query pipeline costs three
 * extra awaits and its logging per statement, and every await inside a write transaction is a
 * point where other requests' work runs while the database's write lock is held.
 */
export function sqliteConnectionOf(source: DataSource | EntityManager): SqliteConnection {
  const dataSource = 'manager' in source && 'driver' in source ? source : (source as EntityManager).connection;
  const connection = (dataSource.driver as unknown as { databaseConnection?: SqliteConnection }).databaseConnection;
  if (!connection) throw new Error('the SQLite connection is not open');
  return connection;
}

/** Runs `sql` on the SQLite connection: the rows of a query, or nothing for other statements. */
export function runSqlite(connection: SqliteConnection, sql: string, parameters: readonly unknown[]): unknown[] | undefined {
  let statements = prepared.get(connection);
  if (!statements) prepared.set(connection, (statements = new Map()));
  let statement = statements.get(sql);
  if (!statement) {
    statement = connection.prepare(sql);
    if (statements.size >= STATEMENT_CACHE_LIMIT) statements.delete(statements.keys().next().value!);
    statements.set(sql, statement);
  }
  // better-sqlite3 binds neither booleans nor undefined (TypeORM converts them the same way).
  const bound = parameters.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p === undefined ? null : p));
  if (statement.reader) return statement.all(...bound);
  statement.run(...bound);
  return undefined;
}
