import { Injectable } from '@nestjs/common';
import type { HealthCheckResult, HealthIndicator } from '@realm/http';
import { Database } from '@realm/persistence';
import { KeyVault } from '@realm/vault';

/** Ready only while the database answers `SELECT 1`. */
@Injectable()
export class DatabaseHealth implements HealthIndicator {
  readonly name = 'database';

  constructor(private readonly db: Database) {}

  async check(): Promise<HealthCheckResult> {
    await this.db.ping();
    return { ok: true, detail: `${this.db.driver} answers` };
  }
}

/** Ready only while the vault backend is reachable and holds the active master key. */
@Injectable()
export class VaultHealth implements HealthIndicator {
  readonly name = 'vault';

  constructor(private readonly vault: KeyVault) {}

  async check(): Promise<HealthCheckResult> {
    return this.vault.health();
  }
}
