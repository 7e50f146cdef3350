export { ConfigError, type ConfigErrorCode } from './config.error.js';
export { ConfigModule, REALM_CONFIG } from './config.module.js';
export {
  describeConfig,
  loadConfig,
  parseDurationSeconds,
  type CoreLinkConfig,
  type DatabaseConfig,
  type LoadConfigOptions,
  type LogLevel,
  type Pkcs11Config,
  type RealmConfig,
  type VaultConfig,
} from './load-config.js';
export { CONFIG_FILE_ENV, envNameOf, HARNESS_ENV_PREFIX, SETTINGS, type SettingSpec } from './schema.js';
export { MASK, maskUrlCredentials, Secret } from './secret.js';
export { settingsTable } from './settings-table.js';
