import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from './config.error.js';
import { CONFIG_FILE_ENV, envNameOf, HARNESS_ENV_PREFIX, SETTINGS, type SettingKind, type SettingSpec } from './schema.js';
import { maskUrlCredentials, Secret } from './secret.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** The resolved, validated configuration. Paths are absolute; secrets are {@link Secret}s. */
export interface RealmConfig {
  readonly env: 'development' | 'production';
  readonly dataDir: string;
  readonly log: { readonly level: LogLevel };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly tls: { readonly certFile?: string; readonly keyFile?: string };
    readonly bodyLimitBytes: number;
    /** Appliance processes sharing the port (node:cluster); 1 runs in this process. */
    readonly workers: number;
    /** How long an idle keep-alive connection stays open. */
    readonly keepAliveTimeoutSeconds: number;
    readonly trustProxy: boolean;
  };
  readonly database: DatabaseConfig;
  readonly vault: VaultConfig;
  readonly audit: { readonly checkpointEvery: number; readonly checkpointIntervalSeconds: number };
  readonly kms: {
    readonly domain: string;
    readonly maxBatch: number;
    readonly maxMessageBytes: number;
    readonly maxKeysPerRequest: number;
    readonly channelLifetimeSeconds: number;
    readonly unboundKeyLifetimeSeconds: number;
    readonly boundKeyLifetimeSeconds: number;
  };
  readonly identity: {
    readonly issuer: string;
    readonly accessTokenLifetimeSeconds: number;
    readonly saml: SamlConfig;
    readonly session: { readonly idleTimeoutSeconds: number; readonly absoluteTimeoutSeconds: number };
    readonly oauth: { readonly authorizationCodeLifetimeSeconds: number; readonly deviceCodeLifetimeSeconds: number; readonly refreshTokenLifetimeSeconds: number };
  };
  /** The outbound link to the hosted core; absent when coreLink.url is not set. */
  readonly coreLink?: CoreLinkConfig;
  /** Where the values came from, for `realmctl status`. */
  readonly sources: { readonly file?: string };
}

export interface CoreLinkConfig {
  /** wss://…/link/v1 */
  readonly url: string;
  /** PEM CA bundle for the core's server certificate. */
  readonly caFile: string;
  readonly nodeId?: string;
  readonly maxInFlight: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly drainTimeoutMs: number;
  readonly certificateDays: number;
}

export interface SamlConfig {
  /** Absent: SAML login is off (the appliance's pages and the authorize step refuse to start a login). */
  readonly idpMetadataFile?: string;
  /** Or fetched over HTTPS (trusting idpMetadataCaFile, or the system store) at start and every refresh. */
  readonly idpMetadataUrl?: string;
  readonly idpMetadataCaFile?: string;
  readonly idpMetadataRefreshSeconds: number;
  readonly spEntityId: string;
  readonly allowIdpInitiated: boolean;
  /** false: an unsigned Response around a signed Assertion is accepted. */
  readonly requireSignedResponse: boolean;
  readonly allowSha1: boolean;
  readonly clockSkewSeconds: number;
  readonly requestLifetimeSeconds: number;
  readonly attributes: { readonly userId: string; readonly email: string; readonly displayName: string; readonly groups: string };
  /** Role → IdP groups granting it; `['*']` grants it to everyone the IdP authenticates. */
  readonly roleGroups: { readonly 'realm-admin': readonly string[]; readonly 'compliance-officer': readonly string[]; readonly auditor: readonly string[]; readonly user: readonly string[] };
}

export interface DatabaseConfig {
  readonly driver: 'sqlite' | 'postgres';
  /** The URL as configured; its display form masks the password. */
  readonly url: Secret;
  /** SQLite: absolute file path (or `:memory:`). */
  readonly sqlitePath?: string;
  readonly poolSize: number;
  /** PostgreSQL: idle_in_transaction_session_timeout of every session. */
  readonly idleInTransactionTimeoutSeconds: number;
  /** PostgreSQL: how long migrate() waits for another node's migration lock. */
  readonly migrationLockTimeoutSeconds: number;
  readonly schema?: string;
}

export interface VaultConfig {
  readonly backend: 'software' | 'pkcs11';
  readonly masterKeyLabel: string;
  readonly kekEpochSeconds: number;
  readonly kekCacheSize: number;
  /** Opened content keys of bound KMS keys kept in memory (0: none). */
  readonly contentKeyCacheSize: number;
  /** How long an opened content key stays in memory without being used. */
  readonly contentKeyCacheIdleSeconds: number;
  readonly pkcs11?: Pkcs11Config;
}

export interface Pkcs11Config {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pin: Secret;
  /** `vault.pkcs11.pin` or `vault.pkcs11.pinFile`: named in PIN errors. */
  readonly pinSetting: string;
}

export interface LoadConfigOptions {
  /** Defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** A JSON config file; defaults to `$REALM_CONFIG_FILE`. */
  readonly file?: string;
  /** Base for relative paths; defaults to the process working directory. */
  readonly cwd?: string;
}

type Raw = { value: string | number | boolean; origin: string };

/**
 * Reads, validates and resolves the configuration. Throws a {@link ConfigError} whose message is one
 * line naming the setting (key and environment variable) and what is wrong with it.
 */
export function loadConfig(options: LoadConfigOptions = {}): RealmConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? nonEmpty(env[CONFIG_FILE_ENV]);
  const raw = new Map<string, Raw>();

  if (file !== undefined) {
    for (const [key, value] of readConfigFile(resolve(cwd, file))) raw.set(key, { value, origin: `${key} in ${file}` });
  }
  const byEnv = new Map(SETTINGS.map((s) => [envNameOf(s.key), s]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('REALM_') || name === CONFIG_FILE_ENV || name.startsWith(HARNESS_ENV_PREFIX)) continue;
    const spec = byEnv.get(name);
    if (!spec) {
      throw new ConfigError('CONFIG_UNKNOWN_SETTING', `unknown environment variable ${name}: no setting has that name (see the configuration table in README.md)`, { setting: name });
    }
    if (value !== undefined && value !== '') raw.set(spec.key, { value, origin: `${spec.key} (${name})` });
  }

  const values = new Map<string, unknown>();
  for (const spec of SETTINGS) {
    const given = raw.get(spec.key);
    const input = given ?? (spec.default !== undefined ? { value: spec.default, origin: `${spec.key} (${envNameOf(spec.key)})` } : undefined);
    if (input !== undefined) values.set(spec.key, parseValue(spec, input, cwd));
  }
  return resolveConfig(values, cwd, file);
}

function resolveConfig(v: Map<string, unknown>, cwd: string, file: string | undefined): RealmConfig {
  const get = <T>(key: string) => v.get(key) as T;
  const env = get<'development' | 'production'>('env');
  const dataDir = get<string>('dataDir');

  const url = get<Secret>('database.url');
  const parsedUrl = new URL(url.reveal());
  const driver = parsedUrl.protocol === 'sqlite:' ? 'sqlite' : 'postgres';
  let sqlitePath: string | undefined;
  if (driver === 'sqlite') {
    const target = decodeURIComponent(url.reveal().slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''));
    if (target === '') throw invalid('database.url', 'sqlite: needs a file name, e.g. sqlite:realm.db');
    sqlitePath = target === ':memory:' ? target : isAbsolute(target) ? target : resolve(dataDir, target);
  }
  const schema = get<string | undefined>('database.schema');
  if (schema !== undefined && driver !== 'postgres') {
    throw new ConfigError('CONFIG_CONFLICT', `database.schema (${envNameOf('database.schema')}) applies only to PostgreSQL, but database.url is SQLite`, { setting: 'database.schema' });
  }

  const backend = get<'software' | 'pkcs11'>('vault.backend');
  if (env === 'production' && backend === 'software') {
    throw new ConfigError(
      'CONFIG_CONFLICT',
      `vault.backend (${envNameOf('vault.backend')}) is software, which is refused when env is production: configure the PKCS#11 backend (vault.backend=pkcs11)`,
      { setting: 'vault.backend' },
    );
  }
  let pkcs11: Pkcs11Config | undefined;
  if (backend === 'pkcs11') {
    const module = required('vault.pkcs11.module', get<string | undefined>('vault.pkcs11.module'), 'when vault.backend is pkcs11');
    const tokenLabel = required('vault.pkcs11.tokenLabel', get<string | undefined>('vault.pkcs11.tokenLabel'), 'when vault.backend is pkcs11');
    const pinValue = get<Secret | undefined>('vault.pkcs11.pin');
    const pinFile = get<string | undefined>('vault.pkcs11.pinFile');
    if (pinValue !== undefined && pinFile !== undefined) {
      throw new ConfigError('CONFIG_CONFLICT', `set only one of vault.pkcs11.pin (${envNameOf('vault.pkcs11.pin')}) and vault.pkcs11.pinFile (${envNameOf('vault.pkcs11.pinFile')})`, { setting: 'vault.pkcs11.pin' });
    }
    let pin: Secret;
    let pinSetting: string;
    if (pinFile !== undefined) {
      pin = new Secret(readPinFile(pinFile));
      pinSetting = 'vault.pkcs11.pinFile';
    } else if (pinValue !== undefined) {
      pin = pinValue;
      pinSetting = 'vault.pkcs11.pin';
    } else {
      throw new ConfigError('CONFIG_MISSING_VALUE', `vault.pkcs11.pinFile (${envNameOf('vault.pkcs11.pinFile')}) or vault.pkcs11.pin (${envNameOf('vault.pkcs11.pin')}) must be set when vault.backend is pkcs11`, { setting: 'vault.pkcs11.pinFile' });
    }
    pkcs11 = { module, tokenLabel, pin, pinSetting };
  }

  const certFile = get<string | undefined>('http.tls.certFile');
  const keyFile = get<string | undefined>('http.tls.keyFile');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const missing = certFile === undefined ? 'http.tls.certFile' : 'http.tls.keyFile';
    throw new ConfigError('CONFIG_MISSING_VALUE', `${missing} (${envNameOf(missing)}) must be set together with ${missing === 'http.tls.certFile' ? 'http.tls.keyFile' : 'http.tls.certFile'}`, { setting: missing });
  }
  if (env === 'production' && certFile === undefined) {
    throw new ConfigError('CONFIG_MISSING_VALUE', `http.tls.certFile (${envNameOf('http.tls.certFile')}) and http.tls.keyFile must be set when env is production: the self-signed certificate is for development only`, { setting: 'http.tls.certFile' });
  }

  const coreLink = coreLinkOf(get);

  const issuer = get<string>('identity.issuer').replace(/\/+$/, '');
  const samlMetadata = get<string | undefined>('identity.saml.idpMetadataFile');
  const samlMetadataUrl = get<string | undefined>('identity.saml.idpMetadataUrl');
  const samlMetadataCa = get<string | undefined>('identity.saml.idpMetadataCaFile');
  if (samlMetadata !== undefined && samlMetadataUrl !== undefined) {
    throw new ConfigError('CONFIG_CONFLICT', `set only one of identity.saml.idpMetadataFile (${envNameOf('identity.saml.idpMetadataFile')}) and identity.saml.idpMetadataUrl (${envNameOf('identity.saml.idpMetadataUrl')})`, { setting: 'identity.saml.idpMetadataUrl' });
  }

  return {
    env,
    dataDir,
    log: { level: get('log.level') },
    http: {
      host: get('http.host'),
      port: get('http.port'),
      tls: { ...(certFile !== undefined && { certFile }), ...(keyFile !== undefined && { keyFile }) },
      bodyLimitBytes: get('http.bodyLimitBytes'),
      workers: get('http.workers'),
      keepAliveTimeoutSeconds: get('http.keepAliveTimeout'),
      trustProxy: get('http.trustProxy'),
    },
    database: {
      driver,
      url,
      ...(sqlitePath !== undefined && { sqlitePath }),
      poolSize: get('database.poolSize'),
      idleInTransactionTimeoutSeconds: get('database.idleInTransactionTimeout'),
      migrationLockTimeoutSeconds: get('database.migrationLockTimeout'),
      ...(schema !== undefined && { schema }),
    },
    vault: {
      backend,
      masterKeyLabel: get('vault.masterKeyLabel'),
      kekEpochSeconds: get('vault.kekEpoch'),
      kekCacheSize: get('vault.kekCacheSize'),
      contentKeyCacheSize: get('vault.contentKeyCacheSize'),
      contentKeyCacheIdleSeconds: get('vault.contentKeyCacheIdle'),
      ...(pkcs11 !== undefined && { pkcs11 }),
    },
    audit: { checkpointEvery: get('audit.checkpointEvery'), checkpointIntervalSeconds: get('audit.checkpointInterval') },
    kms: {
      domain: get('kms.domain'),
      maxBatch: get('kms.maxBatch'),
      maxMessageBytes: get('kms.maxMessageBytes'),
      maxKeysPerRequest: get('kms.maxKeysPerRequest'),
      channelLifetimeSeconds: get('kms.channelLifetime'),
      unboundKeyLifetimeSeconds: get('kms.unboundKeyLifetime'),
      boundKeyLifetimeSeconds: get('kms.boundKeyLifetime'),
    },
    identity: {
      issuer,
      accessTokenLifetimeSeconds: get('identity.accessTokenLifetime'),
      saml: {
        ...(samlMetadata !== undefined && { idpMetadataFile: samlMetadata }),
        ...(samlMetadataUrl !== undefined && { idpMetadataUrl: samlMetadataUrl }),
        ...(samlMetadataCa !== undefined && { idpMetadataCaFile: samlMetadataCa }),
        idpMetadataRefreshSeconds: get('identity.saml.idpMetadataRefresh'),
        spEntityId: get<string | undefined>('identity.saml.spEntityId') ?? `${issuer}/saml/metadata`,
        allowIdpInitiated: get('identity.saml.allowIdpInitiated'),
        requireSignedResponse: get('identity.saml.requireSignedResponse'),
        allowSha1: get('identity.saml.allowSha1'),
        clockSkewSeconds: get('identity.saml.clockSkew'),
        requestLifetimeSeconds: get('identity.saml.requestLifetime'),
        attributes: {
          userId: get('identity.saml.userIdAttribute'),
          email: get('identity.saml.emailAttribute'),
          displayName: get('identity.saml.displayNameAttribute'),
          groups: get('identity.saml.groupsAttribute'),
        },
        roleGroups: {
          'realm-admin': groupList(get('identity.saml.roles.realmAdmin')),
          'compliance-officer': groupList(get('identity.saml.roles.complianceOfficer')),
          auditor: groupList(get('identity.saml.roles.auditor')),
          user: groupList(get('identity.saml.roles.user')),
        },
      },
      session: { idleTimeoutSeconds: get('identity.session.idleTimeout'), absoluteTimeoutSeconds: get('identity.session.absoluteTimeout') },
      oauth: {
        authorizationCodeLifetimeSeconds: get('identity.oauth.authorizationCodeLifetime'),
        deviceCodeLifetimeSeconds: get('identity.oauth.deviceCodeLifetime'),
        refreshTokenLifetimeSeconds: get('identity.oauth.refreshTokenLifetime'),
      },
    },
    ...(coreLink !== undefined && { coreLink }),
    sources: file !== undefined ? { file: resolve(cwd, file) } : {},
  };
}

/** The coreLink.* block: all or nothing, keyed on coreLink.url. */
function coreLinkOf(get: <T>(key: string) => T): CoreLinkConfig | undefined {
  const url = get<string | undefined>('coreLink.url');
  if (url === undefined) {
    for (const key of ['coreLink.caFile', 'coreLink.nodeId']) {
      if (get(key) !== undefined) throw new ConfigError('CONFIG_CONFLICT', `${key} (${envNameOf(key)}) is set but coreLink.url (${envNameOf('coreLink.url')}) is not: set the core's URL, or remove ${key}`, { setting: key });
    }
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('coreLink.url', 'must be a wss:// URL, e.g. wss://core.example/link/v1');
  }
  if (parsed.protocol !== 'wss:' || parsed.hostname === '' || parsed.username !== '' || parsed.password !== '') throw invalid('coreLink.url', 'must be a wss:// URL with a host and no credentials');
  const caFile = required('coreLink.caFile', get<string | undefined>('coreLink.caFile'), "when coreLink.url is set (the CA bundle the core's server certificate must chain to)");
  const reconnectBaseMs = get<number>('coreLink.reconnectBaseMs');
  const reconnectMaxMs = get<number>('coreLink.reconnectMaxMs');
  if (reconnectMaxMs < reconnectBaseMs) throw invalid('coreLink.reconnectMaxMs', `must be at least coreLink.reconnectBaseMs (${reconnectBaseMs})`);
  const nodeId = get<string | undefined>('coreLink.nodeId');
  return {
    url,
    caFile,
    ...(nodeId !== undefined && { nodeId }),
    maxInFlight: get('coreLink.maxInFlight'),
    heartbeatIntervalMs: get<number>('coreLink.heartbeatInterval') * 1000,
    heartbeatTimeoutMs: get<number>('coreLink.heartbeatTimeout') * 1000,
    reconnectBaseMs,
    reconnectMaxMs,
    drainTimeoutMs: get<number>('coreLink.drainTimeout') * 1000,
    certificateDays: get('coreLink.certificateDays'),
  };
}

function parseValue(spec: SettingSpec, input: Raw, cwd: string): unknown {
  const { value, origin } = input;
  const kind: SettingKind = spec.kind;
  const text = String(value).trim();
  const shown = kind.type === 'secret' || kind.type === 'url-secret' ? '' : `, got '${truncate(text)}'`;
  const fail = (what: string) => new ConfigError('CONFIG_INVALID_VALUE', `${origin} must be ${what}${shown}`, { setting: spec.key });
  switch (kind.type) {
    case 'string':
      if (text === '') throw fail('a non-empty string');
      if (kind.pattern && !kind.pattern.test(text)) throw fail(kind.patternHint ?? `of the form ${kind.pattern}`);
      return text;
    case 'secret':
      if (text === '') throw fail('a non-empty value');
      return new Secret(text);
    case 'url-secret': {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw fail(`a URL starting with ${kind.schemes.join(' or ')}`);
      }
      if (!kind.schemes.includes(url.protocol)) throw fail(`a URL starting with ${kind.schemes.join(' or ')} (the scheme is ${url.protocol})`);
      return Secret.withDisplay(text, maskUrlCredentials(text));
    }
    case 'path':
      if (text === '') throw fail('a file or directory path');
      return resolve(cwd, text);
    case 'int': {
      if (!/^-?\d+$/.test(text)) throw fail(`an integer between ${kind.min} and ${kind.max}`);
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < kind.min || n > kind.max) throw fail(`an integer between ${kind.min} and ${kind.max}`);
      return n;
    }
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      throw fail('true or false');
    case 'enum':
      if (!kind.choices.includes(text)) throw fail(`one of ${kind.choices.join(', ')}`);
      return text;
    case 'duration': {
      const seconds = parseDurationSeconds(text);
      const range = `a duration between ${formatDuration(kind.minSeconds)} and ${formatDuration(kind.maxSeconds)} (e.g. 90s, 15m, 24h, 30d)`;
      if (seconds === undefined || seconds < kind.minSeconds || seconds > kind.maxSeconds) throw fail(range);
      return seconds;
    }
  }
}

/** `90` and `90s` → 90; `15m` → 900; `24h`; `30d`. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function readConfigFile(path: string): Map<string, string | number | boolean> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `cannot read the config file ${path} (${CONFIG_FILE_ENV}): ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { setting: CONFIG_FILE_ENV });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `the config file ${path} (${CONFIG_FILE_ENV}) is not valid JSON: ${(error as Error).message}`, { setting: CONFIG_FILE_ENV });
  }
  if (!isPlainObject(parsed)) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `the config file ${path} (${CONFIG_FILE_ENV}) must hold a JSON object`, { setting: CONFIG_FILE_ENV });
  }
  const known = new Set(SETTINGS.map((s) => s.key));
  const out = new Map<string, string | number | boolean>();
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix + name;
      if (isPlainObject(value)) {
        walk(value, key + '.');
      } else if (known.has(key) && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
        out.set(key, value);
      } else if (known.has(key)) {
        throw new ConfigError('CONFIG_INVALID_VALUE', `${key} in ${path} must be a string, number or boolean`, { setting: key });
      } else {
        throw new ConfigError('CONFIG_UNKNOWN_SETTING', `unknown setting '${key}' in ${path} (see the configuration table in README.md)`, { setting: key });
      }
    }
  };
  walk(parsed, '');
  return out;
}

function readPinFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `cannot read the PIN file ${path} (vault.pkcs11.pinFile, ${envNameOf('vault.pkcs11.pinFile')}): ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { setting: 'vault.pkcs11.pinFile' });
  }
  const pin = text.split(/\r?\n/, 1)[0]!.trim();
  if (pin === '') throw new ConfigError('CONFIG_INVALID_VALUE', `the PIN file ${path} (vault.pkcs11.pinFile) is empty`, { setting: 'vault.pkcs11.pinFile' });
  return pin;
}

function required<T>(key: string, value: T | undefined, when: string): T {
  if (value === undefined) throw new ConfigError('CONFIG_MISSING_VALUE', `${key} (${envNameOf(key)}) must be set ${when}`, { setting: key });
  return value;
}

function invalid(key: string, what: string): ConfigError {
  return new ConfigError('CONFIG_INVALID_VALUE', `${key} (${envNameOf(key)}): ${what}`, { setting: key });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function truncate(text: string): string {
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

/**
 * The configuration as an operator may see it (`realmctl status`, the start log): every secret is
 * `****`, database URLs keep their shape with the password masked.
 */
export function describeConfig(config: RealmConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
}

/** `"a, b"` → `['a', 'b']`: IdP group names as configured (compared exactly, case included). */
function groupList(value: string): string[] {
  return value.split(',').map((g) => g.trim()).filter((g) => g.length > 0);
}
