import { httpsCall, type HttpsAnswer } from './https-json.js';
import type { Authorize } from './oauth-session.js';
import { RealmClientError } from './realm-client.error.js';

export interface HeadlessBrowserOptions {
  /** PEM CAs trusted for every origin on the way (the appliance's and the IdP's certificates). */
  readonly ca: readonly (string | Buffer)[];
  /** Most requests one authorization may take. */
  readonly maxHops?: number;
}

/**
 * What the system browser does during sign-in, for development tools, the demo and tests only (a
 * real app opens the user's browser, RFC 8252 §6): follows redirects with a cookie jar per origin,
 * fills the IdP's login form with a user name (the development IdP has no passwords), and submits
 * the auto-posting SAML form (HTTP-POST binding, SAML bindings §3.5) that a browser's script would.
 * It stops at the client's redirect URI and hands that URL back to {@link OAuthSession.signIn}.
 */
export class HeadlessBrowser {
  private readonly cookies = new Map<string, Map<string, string>>();

  constructor(private readonly options: HeadlessBrowserOptions) {}

  /** An {@link Authorize} that signs in as `userName` at the IdP and stops at `redirectUri`. */
  authorizer(redirectUri: string, userName: string): Authorize {
    return (authorizationUrl) => this.authorize(authorizationUrl, redirectUri, userName);
  }

  async authorize(authorizationUrl: string, redirectUri: string, userName: string): Promise<string> {
    let method = 'GET';
    let url = authorizationUrl;
    let form: Record<string, string> | undefined;
    const hops: string[] = [];
    for (let hop = 0; hop < (this.options.maxHops ?? 20); hop++) {
      if (url.startsWith(redirectUri)) return url;
      const target = new URL(url);
      if (target.protocol !== 'https:') throw this.failed(`a redirect to ${target.protocol} that is not the client's redirect URI`, hops);
      hops.push(`${method} ${target.host}${target.pathname}`);
      const answer = await this.request(method, target, form);
      const location = answer.headers.location;
      if (answer.status >= 300 && answer.status < 400 && typeof location === 'string') {
        url = new URL(location, target).toString();
        method = 'GET';
        form = undefined;
        continue;
      }
      if (answer.status !== 200 || !/^text\/html/.test(String(answer.headers['content-type']))) throw this.failed(`HTTP ${answer.status} at ${target.host}${target.pathname}`, hops);
      const page = parseForm(answer.body);
      if (!page) throw this.failed(`a page without a form at ${target.host}${target.pathname}`, hops);
      if ('SAMLResponse' in page.fields) {
        form = page.fields;
      } else if ('username' in page.fields) {
        form = { ...page.fields, username: userName };
      } else {
        throw this.failed(`a form this browser does not know how to fill at ${target.host}${target.pathname}`, hops);
      }
      url = new URL(page.action, target).toString();
      method = (page.method ?? 'GET').toUpperCase();
    }
    throw this.failed('too many hops', hops);
  }

  private async request(method: string, url: URL, form: Record<string, string> | undefined): Promise<HttpsAnswer> {
    const jar = this.cookies.get(url.host) ?? new Map<string, string>();
    this.cookies.set(url.host, jar);
    const headers: Record<string, string> = { accept: 'text/html,application/json' };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const answer = await httpsCall(method, url.toString(), this.options.ca, {
      headers,
      ...(form !== undefined && method === 'POST' && { body: new URLSearchParams(form).toString(), contentType: 'application/x-www-form-urlencoded' }),
    });
    const setCookie = answer.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : typeof setCookie === 'string' ? [setCookie] : []) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=(0|-\d+)\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) jar.delete(name);
      else jar.set(name, pair!.slice(eq + 1).trim());
    }
    return answer;
  }

  private failed(what: string, hops: string[]): RealmClientError {
    return new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', `the sign-in did not reach the client's redirect URI: ${what} (after ${hops.join(' -> ') || 'no request'})`);
  }
}

/** The first form of a page: its action, method and named inputs (values unescaped). */
function parseForm(html: string): { action: string; method: string | undefined; fields: Record<string, string> } | undefined {
  const formTag = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!formTag) return undefined;
  const attributes = attributesOf(formTag[1]!);
  const fields: Record<string, string> = {};
  for (const input of formTag[2]!.matchAll(/<input\b([^>]*)>/gi)) {
    const a = attributesOf(input[1]!);
    if (a.name !== undefined) fields[a.name] = a.value ?? '';
  }
  return { action: attributes.action ?? '', method: attributes.method, fields };
}

function attributesOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)')/g)) out[m[1]!.toLowerCase()] = unescapeHtml(m[3] ?? m[4] ?? '');
  return out;
}

function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const e = entity.toLowerCase();
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e]!;
  });
}
