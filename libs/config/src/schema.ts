/**
 * The one configuration schema of the appliance and its CLI.
 *
 * Every setting has a dotted key (used in the JSON config file) and an environment variable derived
 * from it: `vault.pkcs11.tokenLabel` ⇄ `REALM_VAULT_PKCS11_TOKEN_LABEL`. Environment variables
 * override the file; the file overrides defaults. Unknown keys in either place are refused, so a
 * typo in a security setting cannot silently fall back to a default.
 */

export type SettingKind =
  | { type: 'string'; pattern?: RegExp; patternHint?: string }
  | { type: 'secret' }
  | { type: 'url-secret'; schemes: readonly string[] }
  | { type: 'path' }
  | { type: 'int'; min: number; max: number }
  | { type: 'bool' }
  | { type: 'enum'; choices: readonly string[] }
  | { type: 'duration'; minSeconds: number; maxSeconds: number };

export interface SettingSpec {
  readonly key: string;
  readonly kind: SettingKind;
  readonly description: string;
  /** Raw default, parsed like any other input; absent means optional (undefined) unless required. */
  readonly default?: string;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const LABEL = /^[\x20-\x7e]{1,32}$/;

export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'env',
    kind: { type: 'enum', choices: ['development', 'production'] },
    default: 'development',
    description:
      'development allows the software vault and a generated self-signed certificate; production requires PKCS#11 and a configured certificate',
  },
  { key: 'dataDir', kind: { type: 'path' }, default: './data', description: 'directory for the SQLite database, the development master key and generated certificates' },
  { key: 'log.level', kind: { type: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] }, default: 'info', description: 'minimum level of the JSON log on stdout' },

  { key: 'http.host', kind: { type: 'string' }, default: '127.0.0.1', description: 'address the HTTPS listener binds' },
  { key: 'http.port', kind: { type: 'int', min: 0, max: 65535 }, default: '8443', description: 'HTTPS port (0 picks a free port)' },
  { key: 'http.tls.certFile', kind: { type: 'path' }, description: 'PEM certificate chain for HTTPS; without it development mode generates a self-signed certificate' },
  { key: 'http.tls.keyFile', kind: { type: 'path' }, description: 'PEM private key for http.tls.certFile' },
  { key: 'http.bodyLimitBytes', kind: { type: 'int', min: 1024, max: 64 * 1024 * 1024 }, default: '1048576', description: 'largest request body accepted' },
  { key: 'http.workers', kind: { type: 'int', min: 1, max: 64 }, default: '1', description: 'appliance processes sharing the HTTPS port (one per CPU core uses them all; nodes share the database, so any process serves any request)' },
  {
    key: 'http.keepAliveTimeout',
    kind: { type: 'duration', minSeconds: 1, maxSeconds: 3600 },
    default: '65s',
    description: 'how long an idle keep-alive connection stays open: longer than the idle timeout of any load balancer, relay or client pool in front (60s on most), so that none sends a request on a connection the appliance is closing',
  },
  { key: 'http.trustProxy', kind: { type: 'bool' }, default: 'false', description: 'trust X-Forwarded-* from a reverse proxy in front of the appliance' },

  {
    key: 'database.url',
    kind: { type: 'url-secret', schemes: ['sqlite:', 'postgres:', 'postgresql:'] },
    default: 'sqlite:realm.db',
    description: 'sqlite:<file> (relative to dataDir) or postgres://user:password@host:port/db',
  },
  { key: 'database.poolSize', kind: { type: 'int', min: 1, max: 200 }, default: '10', description: 'PostgreSQL connection pool size per process' },
  {
    key: 'database.idleInTransactionTimeout',
    kind: { type: 'duration', minSeconds: 1, maxSeconds: 3600 },
    default: '10s',
    description: 'PostgreSQL: the server ends a session left idle inside a transaction this long (a paused VM, a frozen process), so its row locks stop holding up the other nodes',
  },
  {
    key: 'database.migrationLockTimeout',
    kind: { type: 'duration', minSeconds: 1, maxSeconds: 86400 },
    default: '10m',
    description: "PostgreSQL: how long a starting node waits while another node migrates the schema before it stops with an error naming that node's session",
  },
  { key: 'database.schema', kind: { type: 'string', pattern: /^[a-z_][a-z0-9_]{0,62}$/, patternHint: 'a lower-case SQL identifier' }, description: 'PostgreSQL schema for the appliance tables (default: the connection search_path)' },

  { key: 'vault.backend', kind: { type: 'enum', choices: ['software', 'pkcs11'] }, default: 'software', description: 'where the master key lives: software (a key file, development only) or pkcs11 (an HSM)' },
  { key: 'vault.masterKeyLabel', kind: { type: 'string', pattern: LABEL, patternHint: '1 to 32 printable ASCII characters' }, default: 'realm-master', description: 'CKA_LABEL of the master key in the token (generations share the label and differ by CKA_ID)' },
  { key: 'vault.kekEpoch', kind: { type: 'duration', minSeconds: 60, maxSeconds: 366 * 86400 }, default: '30d', description: 'how long one KEK encrypts new content keys before a new one is created' },
  { key: 'vault.kekCacheSize', kind: { type: 'int', min: 1, max: 100000 }, default: '1024', description: 'unwrapped KEKs kept in memory' },
  {
    key: 'vault.contentKeyCacheSize',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    default: '10000',
    description: 'content keys of bound KMS keys kept opened in memory after a retrieval, so the next one does not open the key with its KEK again (0: none; every retrieval opens its key)',
  },
  {
    key: 'vault.contentKeyCacheIdle',
    kind: { type: 'duration', minSeconds: 1, maxSeconds: 3600 },
    default: '5m',
    description: 'an opened content key not retrieved for this long is wiped from memory',
  },
  { key: 'vault.pkcs11.module', kind: { type: 'path' }, description: 'path of the PKCS#11 module (.so) of the HSM' },
  { key: 'vault.pkcs11.tokenLabel', kind: { type: 'string', pattern: LABEL, patternHint: '1 to 32 printable ASCII characters' }, description: 'label of the token that holds the master key' },
  { key: 'vault.pkcs11.pin', kind: { type: 'secret' }, description: 'user PIN of the token (prefer vault.pkcs11.pinFile)' },
  { key: 'vault.pkcs11.pinFile', kind: { type: 'path' }, description: 'file whose first line is the user PIN of the token' },

  { key: 'audit.checkpointEvery', kind: { type: 'int', min: 1, max: 1_000_000 }, default: '256', description: 'sign a checkpoint after this many audit records' },
  { key: 'audit.checkpointInterval', kind: { type: 'duration', minSeconds: 1, maxSeconds: 86400 }, default: '60s', description: 'sign a checkpoint at least this often while records are written' },

  { key: 'kms.domain', kind: { type: 'string', pattern: HOSTNAME, patternHint: 'a lower-case DNS name' }, default: 'kms.realm.test', description: 'the KMS domain in kms://<domain>/... URIs and the KMS certificate' },
  { key: 'kms.maxBatch', kind: { type: 'int', min: 1, max: 1000 }, default: '100', description: 'most KMS messages in one POST /kms/messages (Webex clients send up to 50)' },
  { key: 'kms.maxMessageBytes', kind: { type: 'int', min: 1024, max: 1024 * 1024 }, default: '65536', description: 'largest single KMS message (compact JWE) accepted' },
  { key: 'kms.maxKeysPerRequest', kind: { type: 'int', min: 1, max: 1000 }, default: '100', description: 'most unbound keys one create /keys request may ask for (count), and most keys one retrieval returns' },
  { key: 'kms.channelLifetime', kind: { type: 'duration', minSeconds: 60, maxSeconds: 3600 }, default: '1h', description: 'lifetime of an ECDHE channel (at most one hour); clients renegotiate after it' },
  { key: 'kms.unboundKeyLifetime', kind: { type: 'duration', minSeconds: 60, maxSeconds: 366 * 86400 }, default: '7d', description: 'how long an unbound key may still be bound (its expirationDate)' },
  { key: 'kms.boundKeyLifetime', kind: { type: 'duration', minSeconds: 60, maxSeconds: 10 * 366 * 86400 }, default: '365d', description: 'how long a bound key may be used to encrypt after binding (its new expirationDate); decryption has no limit' },
  { key: 'identity.issuer', kind: { type: 'string', pattern: /^https:\/\/[^\s]+$/, patternHint: 'an https:// URL' }, default: 'https://realm.localhost', description: 'the iss of access tokens this appliance issues; tokens from any other issuer are refused' },
  { key: 'identity.accessTokenLifetime', kind: { type: 'duration', minSeconds: 30, maxSeconds: 3600 }, default: '5m', description: 'lifetime of KMS access tokens' },

  // SAML 2.0 service provider (the enterprise IdP is the root of user identity).
  { key: 'identity.saml.idpMetadataFile', kind: { type: 'path' }, description: 'the enterprise IdP metadata (EntityDescriptor XML); without it (or identity.saml.idpMetadataUrl) SAML login is off' },
  { key: 'identity.saml.idpMetadataUrl', kind: { type: 'string', pattern: /^https:\/\/[^\s]+$/, patternHint: 'an https:// URL' }, description: 'where to fetch the IdP metadata instead of idpMetadataFile: at start (the start fails if it cannot) and every idpMetadataRefresh (keeping the last good copy on failure)' },
  { key: 'identity.saml.idpMetadataCaFile', kind: { type: 'path' }, description: 'PEM CA certificates trusted for idpMetadataUrl (default: the system trust store)' },
  { key: 'identity.saml.idpMetadataRefresh', kind: { type: 'duration', minSeconds: 300, maxSeconds: 7 * 86400 }, default: '12h', description: 'how often idpMetadataUrl is fetched again, so a signing-key rollover at the IdP needs no restart' },
  { key: 'identity.saml.spEntityId', kind: { type: 'string' }, description: 'our SP entity id (default: <identity.issuer>/saml/metadata)' },
  { key: 'identity.saml.allowIdpInitiated', kind: { type: 'bool' }, default: 'false', description: 'accept unsolicited (IdP-initiated) responses; off: every response must answer one of our requests' },
  { key: 'identity.saml.requireSignedResponse', kind: { type: 'bool' }, default: 'true', description: 'require the IdP to sign the Response as well as the Assertion; false accepts an unsigned Response around a signed Assertion (a Response signature, if present, must still verify)' },
  { key: 'identity.saml.allowSha1', kind: { type: 'bool' }, default: 'false', description: 'accept RSA-SHA1 signatures and SHA-1 digests (legacy IdPs only)' },
  { key: 'identity.saml.clockSkew', kind: { type: 'duration', minSeconds: 0, maxSeconds: 300 }, default: '60s', description: 'tolerated clock difference with the IdP for NotBefore and NotOnOrAfter' },
  { key: 'identity.saml.requestLifetime', kind: { type: 'duration', minSeconds: 60, maxSeconds: 3600 }, default: '10m', description: 'how long an AuthnRequest id waits for its response (each id is usable once)' },
  { key: 'identity.saml.userIdAttribute', kind: { type: 'string' }, default: 'nameID', description: 'assertion attribute holding the user id (nameID: the subject NameID)' },
  { key: 'identity.saml.emailAttribute', kind: { type: 'string' }, default: 'email', description: 'assertion attribute holding the email address' },
  { key: 'identity.saml.displayNameAttribute', kind: { type: 'string' }, default: 'displayName', description: 'assertion attribute holding the display name' },
  { key: 'identity.saml.groupsAttribute', kind: { type: 'string' }, default: 'groups', description: 'assertion attribute holding the group names' },
  { key: 'identity.saml.roles.realmAdmin', kind: { type: 'string' }, default: 'realm-admins', description: 'comma-separated IdP groups whose members are realm admins' },
  { key: 'identity.saml.roles.complianceOfficer', kind: { type: 'string' }, default: 'compliance-officers', description: 'comma-separated IdP groups whose members are compliance officers' },
  { key: 'identity.saml.roles.auditor', kind: { type: 'string' }, default: 'auditors', description: 'comma-separated IdP groups whose members are auditors' },
  { key: 'identity.saml.roles.user', kind: { type: 'string' }, default: '*', description: 'comma-separated IdP groups whose members may use the KMS (* : everyone the IdP authenticates)' },
  // Browser sessions of the appliance's own pages.
  { key: 'identity.session.idleTimeout', kind: { type: 'duration', minSeconds: 60, maxSeconds: 86400 }, default: '15m', description: 'a session unused this long ends' },
  { key: 'identity.session.absoluteTimeout', kind: { type: 'duration', minSeconds: 300, maxSeconds: 7 * 86400 }, default: '8h', description: 'a session ends this long after login, used or not' },
  // OAuth 2.0 authorization server.
  { key: 'identity.oauth.authorizationCodeLifetime', kind: { type: 'duration', minSeconds: 10, maxSeconds: 600 }, default: '60s', description: 'lifetime of an authorization code (single use)' },
  { key: 'identity.oauth.deviceCodeLifetime', kind: { type: 'duration', minSeconds: 60, maxSeconds: 3600 }, default: '10m', description: 'lifetime of a device authorization (user code)' },
  { key: 'identity.oauth.refreshTokenLifetime', kind: { type: 'duration', minSeconds: 300, maxSeconds: 90 * 86400 }, default: '14d', description: 'lifetime of a refresh token family; each use rotates the token' },

  // The outbound link to the hosted core (docs/narrow-api.md §2.2, §3): off unless coreLink.url is set.
  { key: 'coreLink.url', kind: { type: 'string', pattern: /^wss:\/\/[^\s/?#]+\/[^\s#]*$/, patternHint: 'a wss:// URL with a path, e.g. wss://core.example/link/v1' }, description: "the core's link endpoint; absent: no link (relayed clients cannot reach this appliance)" },
  { key: 'coreLink.caFile', kind: { type: 'path' }, description: "PEM CA certificate(s) that the core's TLS server certificate must chain to (required with coreLink.url; public roots are never used)" },
  { key: 'coreLink.nodeId', kind: { type: 'string', pattern: /^[A-Za-z0-9._:-]{1,100}$/, patternHint: '1 to 100 characters of A-Z a-z 0-9 . _ : -' }, description: 'this node\'s id on the link (default: the host name); worker processes append -w<n>' },
  { key: 'coreLink.maxInFlight', kind: { type: 'int', min: 1, max: 1024 }, default: '32', description: 'KMS batches from the core processed at once per link (the core may lower it)' },
  { key: 'coreLink.heartbeatInterval', kind: { type: 'duration', minSeconds: 1, maxSeconds: 600 }, default: '15s', description: 'how often the node pings the core when the link is idle' },
  { key: 'coreLink.heartbeatTimeout', kind: { type: 'duration', minSeconds: 1, maxSeconds: 600 }, default: '10s', description: 'a ping unanswered this long, or silence for the core\'s interval plus this, closes the link and reconnects' },
  { key: 'coreLink.reconnectBaseMs', kind: { type: 'int', min: 10, max: 60_000 }, default: '500', description: 'reconnect backoff: a random delay in [0, min(reconnectMaxMs, reconnectBaseMs × 2^attempt)] (full jitter)' },
  { key: 'coreLink.reconnectMaxMs', kind: { type: 'int', min: 100, max: 600_000 }, default: '30000', description: 'upper bound of the reconnect delay' },
  { key: 'coreLink.drainTimeout', kind: { type: 'duration', minSeconds: 1, maxSeconds: 300 }, default: '10s', description: 'at shutdown, how long the node waits for batches in flight after sending drain' },
  { key: 'coreLink.certificateDays', kind: { type: 'int', min: 2, max: 825 }, default: '30', description: 'validity of the link client certificate issued by the service CA; renewed when a third of it is left' },
];

/** `vault.pkcs11.tokenLabel` → `REALM_VAULT_PKCS11_TOKEN_LABEL`. */
export function envNameOf(key: string): string {
  return 'REALM_' + key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The environment variable naming an optional JSON config file. */
export const CONFIG_FILE_ENV = 'REALM_CONFIG_FILE';
/** Variables with this prefix belong to the test and benchmark harness, not the appliance. */
export const HARNESS_ENV_PREFIX = 'REALM_TEST_';
