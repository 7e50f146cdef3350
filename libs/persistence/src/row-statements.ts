import type { EntityManager, EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { Tx } from './database.js';
import { runSqlite, sqliteConnectionOf } from './sqlite-connection.js';

// SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766, PostgreSQL's protocol limit 65535.
const MAX_PARAMETERS = 30_000;

interface TableShape {
  readonly table: string;
  readonly columns: readonly ColumnMetadata[];
  readonly byProperty: ReadonlyMap<string, ColumnMetadata>;
  readonly byDatabaseName: ReadonlyMap<string, ColumnMetadata>;
  readonly selectList: string;
  /** INSERT statements by row count: the text is built once per shape. */
  readonly inserts: Map<number, string>;
}

const shapes = new WeakMap<EntityMetadata, TableShape>();

/**
 * Hand-written statements over one entity's table, for the few hot paths where TypeORM's query
 * builder costs more than the query (KMS key retrieval, the replay cache, the audit chain: measured
 * at 0.3–0.7 ms of query building per multi-row statement, against 20–40 µs of SQLite work).
 * Values go in and come out through the driver's own conversions for the entity's columns
 * (`preparePersistentValue` / `prepareHydratedValue`, transformers included), so rows read here
 * equal rows read through TypeORM, on SQLite and PostgreSQL alike.
 *
 * SQL fragments name columns by their database names and use `?` placeholders, numbered for
 * PostgreSQL here. Only repositories use this, like the rest of TypeORM.
 */
export class RowStatements<Row extends object> {
  private constructor(
    private readonly manager: EntityManager,
    private readonly postgres: boolean,
    private readonly shape: TableShape,
  ) {}

  static of<Row extends object>(tx: Tx, entityName: string): RowStatements<Row> {
    const metadata = tx.manager.connection.getMetadata(entityName);
    let shape = shapes.get(metadata);
    if (!shape) {
      const columns = metadata.columns;
      shape = {
        table: quote(metadata.tablePath),
        columns,
        byProperty: new Map(columns.map((c) => [c.propertyName, c])),
        byDatabaseName: new Map(columns.map((c) => [c.databaseName, c])),
        selectList: columns.map((c) => quote(c.databaseName)).join(', '),
        inserts: new Map(),
      };
      shapes.set(metadata, shape);
    }
    return new RowStatements<Row>(tx.manager, tx.driver === 'postgres', shape);
  }

  /** A value for a placeholder compared with `property`'s column, converted as TypeORM stores it. */
  value<K extends keyof Row & string>(property: K, value: Row[K]): unknown {
    return this.persistent(this.column(property), value);
  }

  /** Inserts rows with multi-row INSERTs (see {@link chunks} for how many rows each carries). */
  async insert(rows: readonly Row[]): Promise<void> {
    for (const chunk of this.chunks(rows)) await this.query(this.insertText(chunk.length), this.insertParameters(chunk));
  }

  /** `SELECT <every column> FROM <table> WHERE <where> <tail>`, hydrated. */
  async select(where: string, parameters: readonly unknown[], tail = ''): Promise<Row[]> {
    const raw = (await this.query(this.numbered(`SELECT ${this.shape.selectList} FROM ${this.shape.table} WHERE ${where} ${tail}`), parameters)) as Record<string, unknown>[];
    return raw.map((r) => this.hydrate(r));
  }

  /** `SELECT <property's column> FROM <table> WHERE <where>`: one column's values, hydrated. */
  async pluck<K extends keyof Row & string>(property: K, where: string, parameters: readonly unknown[]): Promise<Row[K][]> {
    const column = this.column(property);
    const raw = (await this.query(this.numbered(`SELECT ${quote(column.databaseName)} FROM ${this.shape.table} WHERE ${where}`), parameters)) as Record<string, unknown>[];
    const driver = this.manager.connection.driver;
    return raw.map((r) => driver.prepareHydratedValue(r[column.databaseName], column) as Row[K]);
  }

  /** Rows whose `property` is one of `values` (chunked under the parameter limit), `tail` after each WHERE. */
  async selectIn<K extends keyof Row & string>(property: K, values: readonly Row[K][], tail = ''): Promise<Row[]> {
    const column = this.column(property);
    const rows: Row[] = [];
    for (let start = 0; start < values.length; start += MAX_PARAMETERS) {
      const chunk = values.slice(start, start + MAX_PARAMETERS);
      rows.push(...(await this.select(`${quote(column.databaseName)} IN (${placeholders(chunk.length)})`, chunk.map((v) => this.persistent(column, v)), tail)));
    }
    return rows;
  }

  /** A statement that returns no rows (UPDATE, DELETE). */
  async execute(sql: string, parameters: readonly unknown[]): Promise<void> {
    await this.query(this.numbered(sql), parameters);
  }

  /** The table's quoted name, for statements written by the repository. */
  get table(): string {
    return this.shape.table;
  }

  /**
   * PostgreSQL: through TypeORM (its pool and the unit of work's transaction). SQLite: directly on
   * the process's one connection, which holds the unit of work's transaction (see
   * {@link sqliteConnectionOf}); errors are better-sqlite3's, with the same `code`s TypeORM wraps.
   */
  private query(sql: string, parameters: readonly unknown[]): Promise<unknown> | unknown {
    if (this.postgres) return this.manager.query(sql, [...parameters]);
    return runSqlite(sqliteConnectionOf(this.manager), sql, parameters);
  }

  /**
   * Rows split for multi-row INSERTs, each under the parameter limit. SQLite: chunks of power-of-two
   * sizes (the largest that fits, then the next: 50 rows go as 32 + 16 + 2), so that a table gets
   * at most a dozen statement texts, each prepared once and reused, where a statement per row count
   * would prepare a new one for most group commits (audit batches vary in size from one commit to
   * the next). PostgreSQL: as few statements as the limit allows, since each is a round trip to
   * the server made while the transaction holds its locks (the audit head row), and the driver
   * parses every statement anyway.
   */
  private chunks(rows: readonly Row[]): Row[][] {
    const limit = Math.max(1, Math.floor(MAX_PARAMETERS / this.shape.columns.length));
    const chunks: Row[][] = [];
    for (let start = 0; start < rows.length; ) {
      const fits = Math.min(limit, rows.length - start);
      const size = this.postgres ? fits : 2 ** Math.floor(Math.log2(fits));
      chunks.push(rows.slice(start, start + size));
      start += size;
    }
    return chunks;
  }

  private insertParameters(rows: readonly Row[]): unknown[] {
    const parameters: unknown[] = [];
    const { columns } = this.shape;
    // A batch's rows usually share one Date (when they were recorded), which the driver would
    // format anew for each row: the same Date object, in a column with no transformer, is
    // converted once.
    const dates: (Date | undefined)[] = [];
    const converted: unknown[] = [];
    for (const row of rows) {
      for (let i = 0; i < columns.length; i++) {
        const column = columns[i]!;
        const value = (row as Record<string, unknown>)[column.propertyName];
        if (!(value instanceof Date) || column.transformer !== undefined) {
          parameters.push(this.persistent(column, value));
        } else if (dates[i] === value) {
          parameters.push(converted[i]);
        } else {
          dates[i] = value;
          converted[i] = this.persistent(column, value);
          parameters.push(converted[i]);
        }
      }
    }
    return parameters;
  }

  private insertText(rowCount: number): string {
    let text = this.shape.inserts.get(rowCount);
    if (text === undefined) {
      const names = this.shape.columns.map((c) => quote(c.databaseName)).join(', ');
      const tuple = `(${placeholders(this.shape.columns.length)})`;
      text = this.numbered(`INSERT INTO ${this.shape.table} (${names}) VALUES ${Array.from({ length: rowCount }, () => tuple).join(', ')}`);
      if (this.shape.inserts.size < 64) this.shape.inserts.set(rowCount, text);
    }
    return text;
  }

  private hydrate(raw: Record<string, unknown>): Row {
    const row: Record<string, unknown> = {};
    const driver = this.manager.connection.driver;
    for (const [name, value] of Object.entries(raw)) {
      const column = this.shape.byDatabaseName.get(name);
      if (column) row[column.propertyName] = driver.prepareHydratedValue(value, column);
    }
    return row as Row;
  }

  private persistent(column: ColumnMetadata, value: unknown): unknown {
    const converted = this.manager.connection.driver.preparePersistentValue(value, column);
    // better-sqlite3 binds neither booleans nor undefined.
    return converted === undefined ? null : converted;
  }

  private column(property: string): ColumnMetadata {
    const column = this.shape.byProperty.get(property);
    if (!column) throw new Error(`${this.shape.table} has no column for property ${property}`);
    return column;
  }

  /** `?` → `$1, $2, …` on PostgreSQL (fragments are ours and hold no literal question marks). */
  private numbered(sql: string): string {
    if (!this.postgres) return sql;
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  }
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

function quote(identifier: string): string {
  return identifier
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}
