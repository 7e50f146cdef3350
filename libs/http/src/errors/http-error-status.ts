import { ConfigError, type ConfigErrorCode } from '@realm/config';
import { assertUnreachable, type RealmError } from '@realm/errors';

/**
 * The HTTP status (RFC 9110 §15) of a {@link RealmError}. The app provides one under
 * {@link HTTP_ERROR_STATUS}: each bounded context maps its own code union in an exhaustive switch
 * ending in `assertUnreachable`, and falls back to {@link defaultHttpErrorStatus} for the rest.
 * Anything outside 400–599 is answered as 500.
 */
export type RealmErrorHttpStatus = (error: RealmError) => number;

/**
 * Injection token of the app's {@link RealmErrorHttpStatus}. There is deliberately no built-in
 * guess from the shape of a code: a code whose status nobody decided is a bug to find at compile
 * time, not a 400 or a 500 to discover in production.
 */
export const HTTP_ERROR_STATUS = Symbol('HTTP_ERROR_STATUS');

/**
 * The statuses of the errors this layer knows: {@link ConfigError}s, and 500 for every other code.
 * An app's mapping ends with it.
 */
export function defaultHttpErrorStatus(error: RealmError): number {
  return error instanceof ConfigError ? configErrorStatus(error.code) : 500;
}

function configErrorStatus(code: ConfigErrorCode): number {
  switch (code) {
    // The appliance's configuration is the operator's to fix, never the client's: a request that
    // runs into it fails as a server error, and the message stays in the log.
    case 'CONFIG_INVALID_VALUE':
    case 'CONFIG_MISSING_VALUE':
    case 'CONFIG_UNKNOWN_SETTING':
    case 'CONFIG_CONFLICT':
    case 'CONFIG_FILE_UNREADABLE':
      return 500;
    default:
      return assertUnreachable(code);
  }
}
