import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AuditModule } from '@realm/audit';
import { ConfigModule } from '@realm/config';
import { HealthModule, HTTP_ERROR_STATUS, Metrics, MetricsModule } from '@realm/http';
import { IdentityModule, OAuthModule, SamlLoginModule, ScimModule } from '@realm/identity';
import { KmsModule } from '@realm/kms';
import { PersistenceModule } from '@realm/persistence';
import { VaultModule } from '@realm/vault';
import { DatabaseHealth, VaultHealth } from './health-indicators.js';
import { realmHttpErrorStatus } from './http-error-status.js';
import type { RealmRuntime } from './realm-runtime.js';

const REALM_RUNTIME = Symbol('REALM_RUNTIME');

/** Exposes vault counters as Prometheus metrics and closes the runtime when the app shuts down. */
@Injectable()
class RuntimeLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REALM_RUNTIME) private readonly runtime: RealmRuntime, metrics: Metrics) {
    const calls = metrics.gauge('realm_vault_backend_calls', 'Master-key operations performed by the vault backend (HSM) since start', ['operation']);
    const vault = runtime.vault;
    // prom-client calls a metric's `collect` on every scrape; the counters live in the vault.
    Object.assign(calls, {
      collect: () => {
        calls.set({ operation: 'wrap' }, vault.counters.backendWraps);
        calls.set({ operation: 'unwrap' }, vault.counters.backendUnwraps);
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}

/**
 * The appliance: the bounded contexts' Nest modules over the runtime opened before Nest starts
 * (database, vault, audit log), plus health, metrics and the error mapping.
 */
@Module({})
export class AppModule {
  static forRoot(runtime: RealmRuntime): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(runtime.config),
        PersistenceModule.forRoot(runtime.db),
        VaultModule.forRoot(runtime.vault),
        AuditModule.forRoot(runtime.audit),
        IdentityModule.forRoot(runtime.identity),
        ...(runtime.web ? [SamlLoginModule.forRoot(runtime.web.login), OAuthModule.forRoot(runtime.web.oauth), ScimModule.forRoot(runtime.web.scim)] : []),
        KmsModule.forRoot(runtime.kms),
        MetricsModule,
        HealthModule.forRoot({ indicators: [DatabaseHealth, VaultHealth] }),
      ],
      providers: [{ provide: HTTP_ERROR_STATUS, useValue: realmHttpErrorStatus }, { provide: REALM_RUNTIME, useValue: runtime }, RuntimeLifecycle],
    };
  }
}
