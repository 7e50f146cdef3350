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

/**
 * BEGIN IMMEDIATE without waiting: the database's write lock now, or the SQLITE_BUSY error that
 * says another connection holds it (returned, not thrown; any other error is thrown). The
 * connection's busy timeout is 0 for the attempt and `busyTimeoutMs` again after it, for the
 * statements that may wait (migrations).
 *
 * A process that finds the lock busy tries again on the next turns of its event loop, so a failed
 * attempt must be cheap: the three statements are prepared once per connection, and the error
 * better-sqlite3 throws is built without a stack trace (it would only name this function, and
 * capturing it was most of the cost: measured 15–23 µs per failed attempt with `pragma()` and
 * `exec()`, 3.6 µs like this).
 */
export function tryBeginImmediate(connection: SqliteConnection, busyTimeoutMs: number): unknown {
  runSqlite(connection, 'PRAGMA busy_timeout = 0', []);
  const stackTraceLimit = Error.stackTraceLimit;
  // Synchronous from here to the finally block: no other code runs while the limit is 0.
  Error.stackTraceLimit = 0;
  try {
    runSqlite(connection, 'BEGIN IMMEDIATE', []);
    return undefined;
  } catch (error) {
    if (isSqliteBusy(error)) return error;
    throw error;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    runSqlite(connection, `PRAGMA busy_timeout = ${busyTimeoutMs}`, []);
  }
}

/** better-sqlite3's error for SQLITE_BUSY or one of its extended codes. */
function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
