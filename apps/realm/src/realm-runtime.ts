import { readFileSync } from 'node:fs';
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import { describeError } from '@realm/errors';
import type { RealmConfig } from '@realm/config';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog } from '@realm/audit';
import { CORE_LINK_ENTITIES, CORE_LINK_MIGRATIONS, type CoreLink, openCoreLink } from '@realm/core-link';
import { IDENTITY_ENTITIES, IDENTITY_MIGRATIONS, fetchIdpMetadata, type Identity, IdentityError, type OAuthServer, openIdentity, openOAuth, openSamlLogin, openScim, type SamlLogin, type Scim } from '@realm/identity';
import { createKmsRuntime, IdentityAuthenticator, KMS_ENTITIES, KMS_MIGRATIONS, type KmsPipelineObserver, type KmsRuntime } from '@realm/kms';
import { Database, type MigrationClass, type PortableEntity } from '@realm/persistence';
import { createBackend, KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS, VaultError } from '@realm/vault';

/** Every table of the appliance, and the migrations that create them, in one place. */
export const REALM_ENTITIES: readonly PortableEntity<object>[] = [...VAULT_ENTITIES, ...AUDIT_ENTITIES, ...IDENTITY_ENTITIES, ...KMS_ENTITIES, ...CORE_LINK_ENTITIES];
export const REALM_MIGRATIONS: readonly MigrationClass[] = [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS, ...IDENTITY_MIGRATIONS, ...KMS_MIGRATIONS, ...CORE_LINK_MIGRATIONS];

/** What the runtime reports while it starts (a pino logger fits). */
export interface RuntimeLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error?(object: object, message: string): void;
}

export interface RealmRuntime {
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  readonly audit: AuditLog;
  readonly identity: Identity;
  readonly kms: KmsRuntime;
  /** What users and provisioning reach over HTTP: SAML login and sessions, the OAuth server, SCIM (the appliance only). */
  readonly web?: IdentityWeb;
  /** This node's link to the hosted core (the appliance, when coreLink.url is set); started once the app listens. */
  readonly coreLink?: CoreLink;
  /** Writes `realm.stop`, seals the audit log with a checkpoint, logs out of the HSM, closes the database. */
  close(): Promise<void>;
}

/** Opens the database and applies pending migrations (several nodes may do this at once). */
export async function openRealmDatabase(config: RealmConfig): Promise<Database> {
  const db = await Database.open(config.database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
  try {
    await db.migrate();
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/**
 * Logs in to the vault backend first (a wrong PIN, token label or module stops here, before the
 * database is created or migrated), then opens the database and the vault over it.
 */
export async function openDatabaseAndVault(config: RealmConfig): Promise<{ db: Database; vault: KeyVault }> {
  const backend = createBackend(config);
  let db: Database;
  try {
    db = await openRealmDatabase(config);
  } catch (error) {
    backend.close();
    throw error;
  }
  try {
    return { db, vault: await KeyVault.open(config, db, { backend }) };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** The identity services of the appliance's HTTP surface. */
export interface IdentityWeb {
  readonly login: SamlLogin;
  readonly oauth: OAuthServer;
  readonly scim: Scim;
  /** Stops refreshing the IdP metadata. */
  close(): void;
}

/**
 * Opens SAML login and sessions, the OAuth authorization server and SCIM over the identity
 * services. IdP metadata from identity.saml.idpMetadataUrl is fetched now (a failure stops the
 * start) and again every idpMetadataRefresh; a failed refresh keeps the last good copy and warns.
 */
export async function openIdentityWeb(config: RealmConfig, db: Database, vault: KeyVault, audit: AuditLog, identity: Identity, log: RuntimeLog): Promise<IdentityWeb> {
  const { idpMetadataUrl: url, idpMetadataCaFile: caFile, idpMetadataRefreshSeconds } = config.identity.saml;
  const caPem = caFile !== undefined ? readCaFile(caFile) : undefined;
  const metadata = url !== undefined ? await fetchIdpMetadata(url, caPem) : undefined;
  const login = openSamlLogin(config, db, audit, identity, { ...(metadata && { metadata }) });
  const oauth = await openOAuth(config, { db, vault, audit, principals: identity.principals, tokens: identity.tokens, sessions: login.sessions });
  const scim = openScim(db, audit, identity.principals, config);
  let refresh: NodeJS.Timeout | undefined;
  if (url !== undefined && login.serviceProvider) {
    const sp = login.serviceProvider;
    refresh = setInterval(() => {
      fetchIdpMetadata(url, caPem).then(
        (fresh) => {
          sp.replaceMetadata(fresh);
          log.info({ setting: 'identity.saml.idpMetadataUrl', signingCertificates: fresh.signingCertificates.length }, 'IdP metadata refreshed');
        },
        (error: unknown) => log.warn({ setting: 'identity.saml.idpMetadataUrl', reason: describeError(error) }, 'IdP metadata refresh failed: the last good metadata stays in use'),
      ).catch((error: unknown) => log.warn({ setting: 'identity.saml.idpMetadataUrl', reason: describeError(error) }, 'IdP metadata refresh refused: the last good metadata stays in use'));
    }, idpMetadataRefreshSeconds * 1000);
    refresh.unref();
  }
  return { login, oauth, scim, close: () => clearInterval(refresh) };
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new IdentityError('IDENTITY_SAML_METADATA_INVALID', `cannot read identity.saml.idpMetadataCaFile ${path}: ${describeError(error)}`, { cause: error });
  }
}

export interface OpenRuntimeOptions {
  /**
   * Who starts: `appliance` (a server process), `supervisor` (the process that prepares the
   * database and vault, then runs http.workers appliance processes) or `realmctl`.
   */
  readonly component: 'appliance' | 'supervisor' | 'realmctl';
  /**
   * Create the master key when the vault is empty. The server does so only in development; in
   * production the master key is created deliberately, with `realmctl init`.
   */
  readonly initialize: boolean;
  /** Observes every KMS message (metrics). */
  readonly kmsObserver?: KmsPipelineObserver;
}

/**
 * Opens the identity services and the KMS. With `initialize`, creates what is missing: the token
 * signing key, the service CA, the KMS static key and, in development, a certificate for it from
 * the appliance's own CA. Without it (production), a missing static key stops the start.
 */
export async function openIdentityAndKms(config: RealmConfig, db: Database, vault: KeyVault, audit: AuditLog, options: Pick<OpenRuntimeOptions, 'initialize' | 'kmsObserver'>): Promise<{ identity: Identity; kms: KmsRuntime }> {
  const identity = await openIdentity(db, vault, audit, {
    tokens: { issuer: config.identity.issuer, defaultLifetimeSeconds: config.identity.accessTokenLifetimeSeconds },
  });
  const cluster = `kms://${config.kms.domain}`;
  const kms = createKmsRuntime(config, db, vault, audit, {
    authenticator: new IdentityAuthenticator(identity, cluster),
    ...(options.kmsObserver && { observer: options.kmsObserver }),
  });
  if (options.initialize) await kms.staticKey.ensure();
  const { publicKey, chain } = await kms.staticKey.current().catch((error: unknown) => {
    kms.close();
    throw error;
  });
  if (chain.length === 0 && config.env === 'development') {
    await kms.staticKey.setCertificateChain(await identity.serviceCa.issueKmsCertificate(config.kms.domain, publicKey));
  }
  return { identity, kms };
}

/**
 * Opens everything the appliance stands on, in order: the database (migrated), the vault (HSM
 * login, master-key check value), the audit log. Whatever fails stops the start with one line,
 * and whatever was opened before it is closed again.
 */
export async function openRealmRuntime(config: RealmConfig, log: RuntimeLog, options: OpenRuntimeOptions): Promise<RealmRuntime> {
  const { db, vault: opening } = await openDatabaseAndVault(config);
  let vault: KeyVault | undefined = opening;
  try {
    if (!(await vault.isInitialized())) {
      if (!options.initialize) {
        throw new VaultError('VAULT_NOT_INITIALIZED', `the vault has no master key yet: run \`realmctl init\` with the same configuration (vault.backend is ${config.vault.backend})`, { setting: 'vault.backend' });
      }
      const { generation } = await vault.initialize();
      log.info({ generation, backend: config.vault.backend }, 'vault initialised: master key created');
    }
    if (config.vault.backend === 'software') {
      log.warn({ backend: 'software', dataDir: config.dataDir }, 'the software vault keeps the master key in a file in the data directory: development only, not for production (set vault.backend=pkcs11)');
    }
    const audit = await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
    const { identity, kms } = await openIdentityAndKms(config, db, vault, audit, options);
    const web = options.component === 'appliance' ? await openIdentityWeb(config, db, vault, audit, identity, log) : undefined;
    if (web && !web.login.serviceProvider) {
      log.warn({ setting: 'identity.saml.idpMetadataFile' }, 'SAML login is off: set identity.saml.idpMetadataFile or identity.saml.idpMetadataUrl to the enterprise IdP metadata; until then users cannot sign in or obtain KMS tokens');
    }
    if ((await kms.staticKey.current()).chain.length === 0) {
      log.warn({ kid: (await kms.staticKey.current()).uri }, 'the KMS static key has no certificate yet: clients will refuse it until one is imported (realmctl kms csr, then realmctl kms import-certificate)');
    }
    // Each appliance process (each worker with http.workers > 1) is a link node of its own.
    const coreLink =
      options.component === 'appliance'
        ? openCoreLink({
            config,
            db,
            vault,
            audit,
            serviceCa: identity.serviceCa,
            kms: kms.service,
            log: { info: (o, m) => log.info(o, m), warn: (o, m) => log.warn(o, m), error: (o, m) => (log.error ?? log.warn).call(log, o, m) },
            ...(cluster.isWorker && cluster.worker && { workerId: cluster.worker.id }),
          })
        : undefined;
    const actor = { type: 'system' as const, id: `${options.component}@${hostname()}` };
    await audit.record({ action: `${options.component}.start`, outcome: 'success', actor, details: { backend: config.vault.backend, database: config.database.driver, env: config.env } });
    const opened = vault;
    return {
      config,
      db,
      vault: opened,
      audit,
      identity,
      kms,
      ...(web && { web }),
      ...(coreLink && { coreLink }),
      async close() {
        // First, so that batches in flight are answered while the KMS is still open.
        await coreLink?.close();
        web?.close();
        kms.close();
        try {
          await audit.record({ action: `${options.component}.stop`, outcome: 'success', actor });
          await audit.close();
        } finally {
          opened.close();
          await db.close();
        }
      },
    };
  } catch (error) {
    vault?.close();
    await db.close();
    throw error;
  }
}
