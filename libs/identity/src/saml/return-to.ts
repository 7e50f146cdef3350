import { refused } from '../identity.error.js';

export const DEFAULT_RETURN_TO = '/account';
const MAX_RETURN_TO = 2048;

/**
 * Where to send the browser after login: a path on this appliance, never another site (an open
 * redirect would let a phishing link borrow the appliance's name). Only an absolute path is
 * accepted: one leading `/` not followed by `/` or `\` (a browser reads `//host` and `/\host` as
 * another host, WHATWG URL §4.4 "special authority slashes"), no backslash, no control character
 * or whitespace, and it must still be a same-origin path once resolved against a dummy origin.
 */
export function checkReturnTo(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_RETURN_TO;
  const invalid = (why: string) => refused('IDENTITY_SAML_RELAY_STATE', 'returnTo (RelayState) must be a path on this appliance, such as /account', why);
  if (typeof value !== 'string') throw invalid('returnTo is not a string');
  if (value.length > MAX_RETURN_TO) throw invalid(`returnTo longer than ${MAX_RETURN_TO} characters`);
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) throw invalid('returnTo is not an absolute path on this host');
  if (/[\u0000-\u0020\u007f-\u009f]/.test(value)) throw invalid('returnTo contains whitespace or control characters');
  const base = 'https://return-to.invalid';
  let resolved: URL;
  try {
    resolved = new URL(value, base);
  } catch {
    throw invalid('returnTo is not a URL path');
  }
  if (resolved.origin !== base) throw invalid('returnTo leaves this host');
  return value;
}
