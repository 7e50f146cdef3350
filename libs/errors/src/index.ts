/**
 * The error discipline shared by every bounded context.
 *
 * Each context declares its own string-literal union of codes and a subclass of {@link RealmError}
 * narrowed to it. Transports (HTTP, KMS, CLI) map codes to statuses once, in an exhaustive switch
 * that ends in {@link assertUnreachable}, so a new code without a mapping does not compile.
 *
 * Messages are written for operators: they name the problem and, where one exists, the setting to
 * fix. They never carry key material, tokens or PINs; `cause` is kept for the log only and is never
 * rendered to a client.
 */
export class RealmError<Code extends string = string> extends Error {
  override readonly name: string = 'RealmError';
  /** The configuration key an operator should look at, e.g. `vault.pkcs11.pin`. */
  readonly setting?: string;

  constructor(
    readonly code: Code,
    message: string,
    options: { setting?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.setting !== undefined) this.setting = options.setting;
  }

  /** One line for a terminal or a log: `CODE: message`. */
  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isRealmError(value: unknown): value is RealmError {
  return value instanceof RealmError;
}

/** Ends an exhaustive switch: a missing case becomes a compile error. */
export function assertUnreachable(value: never): never {
  throw new Error(`unhandled case: ${String(value)}`);
}

/**
 * The message of an unknown thrown value, for logs. Stack traces stay in the log record's own
 * field; this is what a single-line operator message may show.
 */
export function describeError(error: unknown): string {
  if (error instanceof RealmError) return error.toLine();
  if (error instanceof Error) return error.message;
  return String(error);
}
