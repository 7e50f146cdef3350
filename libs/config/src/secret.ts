import { inspect } from 'node:util';

const MASK = '****';

/**
 * A configuration value that must never be printed: PINs, passwords, database URLs with
 * credentials. Every way a value usually escapes (template strings, JSON, util.inspect, console)
 * yields `****`; only an explicit {@link Secret.reveal} returns the value.
 */
export class Secret {
  readonly #value: string;
  readonly #display: string;

  constructor(value: string, display: string = MASK) {
    this.#value = value;
    this.#display = display;
  }

  /** A secret whose printable form keeps a non-secret shape, e.g. a URL with its password masked. */
  static withDisplay(value: string, display: string): Secret {
    return new Secret(value, display);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return this.#display;
  }

  toJSON(): string {
    return this.#display;
  }

  [inspect.custom](): string {
    return this.#display;
  }
}

/** `postgres://user:pw@host/db` → `postgres://user:****@host/db`; anything unparsable → `****`. */
export function maskUrlCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = MASK;
    return parsed.toString();
  } catch {
    return MASK;
  }
}

export { MASK };
