import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AuditModule } from '@realm/audit';
import { ConfigModule } from '@realm/config';
import { type CoreLinkObserver, CoreLinkModule } from '@realm/core-link';
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
    const opens = metrics.gauge('realm_vault_content_key_opens', 'Content keys opened with their KEK since start (not those served opened from memory)', []);
    Object.assign(opens, { collect: () => opens.set(vault.counters.contentKeyOpens) });
    const opened = metrics.gauge('realm_vault_opened_content_keys', 'Content keys kept opened in memory now (vault.contentKeyCacheSize, vault.contentKeyCacheIdle)', []);
    Object.assign(opened, { collect: () => opened.set(vault.openedKeyCount) });
    runtime.coreLink?.observe(coreLinkMetrics(metrics));
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
        CoreLinkModule.forRoot(runtime.coreLink),
        MetricsModule,
        HealthModule.forRoot({ indicators: [DatabaseHealth, VaultHealth] }),
      ],
      providers: [{ provide: HTTP_ERROR_STATUS, useValue: realmHttpErrorStatus }, { provide: REALM_RUNTIME, useValue: runtime }, RuntimeLifecycle],
    };
  }
}

/** The link to the core as Prometheus metrics: up or not, connection attempts, relayed batches and their latency. */
function coreLinkMetrics(metrics: Metrics): CoreLinkObserver {
  const up = metrics.gauge('realm_core_link_up', '1 while this node\'s link to the core is open (after welcome), else 0');
  const connects = metrics.counter('realm_core_link_connects_total', 'Link connection attempts, by outcome', ['outcome']);
  const batches = metrics.counter('realm_core_link_batches_total', 'kms.request batches relayed by the core, by outcome (answered, refused, lost)', ['outcome']);
  const messages = metrics.counter('realm_core_link_messages_total', 'KMS messages in relayed batches, by outcome', ['outcome']);
  const latency = metrics.histogram('realm_core_link_batch_duration_seconds', 'From a kms.request arriving to its answer being sent', ['outcome']);
  const inFlight = metrics.gauge('realm_core_link_in_flight', 'Relayed batches being processed now');
  return {
    linkUp: (open) => up.set(open ? 1 : 0),
    connectAttempt: (outcome) => connects.inc({ outcome }),
    batch: (outcome, count, seconds) => {
      batches.inc({ outcome });
      messages.inc({ outcome }, count);
      latency.observe({ outcome }, seconds);
    },
    inFlight: (count) => inFlight.set(count),
  };
}
