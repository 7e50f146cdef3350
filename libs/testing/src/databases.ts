import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { makeTempDir } from './support.js';

/** Set by .ci/run: the suites then run on PostgreSQL as well as SQLite. */
export function postgresTestUrl(): string | undefined {
  const url = process.env.REALM_TEST_POSTGRES_URL;
  return url === undefined || url.trim() === '' ? undefined : url;
}

export interface TestDatabase {
  readonly name: 'sqlite' | 'postgres';
  /** Creates an empty database and returns the REALM_* settings that point at it. */
  create(): Promise<{ env: Record<string, string>; url: string; drop(): Promise<void> }>;
}

/**
 * SQLite always; PostgreSQL when REALM_TEST_POSTGRES_URL is set. Each `create()` makes a database
 * of its own (a file, or `CREATE DATABASE realm_test_<random>`) and `drop()` removes it.
 */
export function testDatabases(): TestDatabase[] {
  const list: TestDatabase[] = [
    {
      name: 'sqlite',
      async create() {
        const dir = makeTempDir('realm-db-');
        const url = `sqlite:${dir}/realm.db`;
        return { env: { REALM_DATA_DIR: dir, REALM_DATABASE_URL: url }, url, drop: async () => undefined };
      },
    },
  ];
  const admin = postgresTestUrl();
  if (admin !== undefined) {
    list.push({
      name: 'postgres',
      async create() {
        const name = `realm_test_${randomBytes(6).toString('hex')}`;
        await adminQuery(admin, `CREATE DATABASE ${name}`);
        const url = new URL(admin);
        url.pathname = `/${name}`;
        const dir = makeTempDir('realm-pgdata-');
        return {
          env: { REALM_DATA_DIR: dir, REALM_DATABASE_URL: url.toString() },
          url: url.toString(),
          drop: () => adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
        };
      },
    });
  }
  return list;
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
