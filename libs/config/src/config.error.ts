import { RealmError } from '@realm/errors';

export type ConfigErrorCode =
  | 'CONFIG_INVALID_VALUE'
  | 'CONFIG_MISSING_VALUE'
  | 'CONFIG_UNKNOWN_SETTING'
  | 'CONFIG_FILE_UNREADABLE'
  | 'CONFIG_CONFLICT';

/** A configuration problem; the message is the one line an operator sees at start. */
export class ConfigError extends RealmError<ConfigErrorCode> {
  override readonly name = 'ConfigError';
}
