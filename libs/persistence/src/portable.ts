import { EntitySchema, type EntitySchemaColumnOptions, type ValueTransformer } from 'typeorm';
import { Table, type TableColumnOptions, type TableIndexOptions } from 'typeorm';

export type Driver = 'sqlite' | 'postgres';

/**
 * Column types that mean the same thing on SQLite and PostgreSQL. TypeORM has no type that is
 * binary on both (`blob` vs `bytea`) or a time zone-aware timestamp on both (`datetime` stored as
 * UTC text vs `timestamptz`), so entities and migrations name these portable types and the driver
 * picks the real one.
 */
export type PortableType = 'string' | 'text' | 'int' | 'bigint' | 'bool' | 'binary' | 'timestamp' | 'json';

export interface PortableColumn {
  readonly type: PortableType;
  readonly primary?: boolean;
  readonly nullable?: boolean;
  /** For `string`: the varchar length (default 255). */
  readonly length?: number;
  readonly unique?: boolean;
}

export interface PortableIndex {
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique?: boolean;
}

/** A table described once, usable by the entity layer and (as a frozen copy) by a migration. */
export interface PortableEntity<Row extends object> {
  readonly name: string;
  readonly columns: { readonly [K in keyof Row]-?: PortableColumn & { readonly column: string } };
  readonly indices?: readonly PortableIndex[];
}

export function defineEntity<Row extends object>(entity: PortableEntity<Row>): PortableEntity<Row> {
  return entity;
}

export function sqlType(type: PortableType, driver: Driver): string {
  switch (type) {
    case 'string':
      return 'varchar';
    case 'text':
    case 'json':
      return 'text';
    case 'int':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'bool':
      return 'boolean';
    case 'binary':
      return driver === 'postgres' ? 'bytea' : 'blob';
    case 'timestamp':
      return driver === 'postgres' ? 'timestamptz' : 'datetime';
  }
}

// PostgreSQL returns bigint as a string; our bigints (sequence numbers, epochs) stay below 2^53.
const bigintTransformer: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (value === null || value === undefined ? value : Number(value)),
};

const jsonTransformer: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? value : JSON.stringify(value)),
  from: (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value),
};

export function toEntitySchema(entity: PortableEntity<object>, driver: Driver): EntitySchema {
  const columns: Record<string, EntitySchemaColumnOptions> = {};
  for (const [property, spec] of Object.entries(entity.columns) as [string, PortableColumn & { column: string }][]) {
    columns[property] = {
      name: spec.column,
      type: sqlType(spec.type, driver) as EntitySchemaColumnOptions['type'],
      primary: spec.primary ?? false,
      nullable: spec.nullable ?? false,
      ...(spec.type === 'string' && { length: spec.length ?? 255 }),
      ...(spec.type === 'bigint' && { transformer: bigintTransformer }),
      ...(spec.type === 'json' && { transformer: jsonTransformer }),
    };
  }
  return new EntitySchema({
    name: entity.name,
    tableName: entity.name,
    columns,
  });
}

export interface PortableForeignKey {
  readonly columns: readonly string[];
  readonly referencedTable: string;
  readonly referencedColumns: readonly string[];
  readonly onDelete?: 'CASCADE' | 'RESTRICT' | 'SET NULL';
}

export interface PortableTableSpec {
  readonly name: string;
  readonly columns: readonly (PortableColumn & { readonly name: string })[];
  readonly indices?: readonly PortableIndex[];
  readonly foreignKeys?: readonly PortableForeignKey[];
}

/** A TypeORM `Table` for a migration, with the driver's real column types. */
export function portableTable(spec: PortableTableSpec, driver: Driver): Table {
  return new Table({
    name: spec.name,
    columns: spec.columns.map(
      (c): TableColumnOptions => ({
        name: c.name,
        type: sqlType(c.type, driver),
        isPrimary: c.primary ?? false,
        isNullable: c.nullable ?? false,
        isUnique: c.unique ?? false,
        ...(c.type === 'string' && { length: String(c.length ?? 255) }),
      }),
    ),
    indices: (spec.indices ?? []).map(
      (i): TableIndexOptions => ({ name: i.name, columnNames: [...i.columns], isUnique: i.unique ?? false }),
    ),
    foreignKeys: (spec.foreignKeys ?? []).map((f) => ({
      columnNames: [...f.columns],
      referencedTableName: f.referencedTable,
      referencedColumnNames: [...f.referencedColumns],
      onDelete: f.onDelete ?? 'RESTRICT',
    })),
  });
}

/** The portable driver a migration runs against. */
export function driverOfRunner(runner: { connection: { options: { type: string } } }): Driver {
  return runner.connection.options.type === 'postgres' ? 'postgres' : 'sqlite';
}
