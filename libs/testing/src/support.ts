import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RealmConfig } from '@realm/config';

/** The repository root (libs/testing/dist/src → ../../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** A fresh directory under the OS temp dir, removed when the process exits. */
export function makeTempDir(prefix = 'realm-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A configuration built only from `env` (never from the developer's own REALM_* variables). */
export function testConfig(env: Record<string, string>): RealmConfig {
  return loadConfig({ env: { REALM_LOG_LEVEL: 'silent', ...env } });
}

/** Rewrites `?` placeholders as `$1, $2, ...` for PostgreSQL, for raw SQL in tamper tests. */
export function portableSql(driver: 'sqlite' | 'postgres', sql: string): string {
  if (driver === 'sqlite') return sql;
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
