import type { Principal } from '../principals/principal.js';
import { CSRF_FIELD } from './session.guard.js';

/**
 * The account page's own CSP: the platform default (`default-src 'none'`, `form-action 'none'`)
 * plus form posts to this origin, which the logout form needs. No script, no style, no frame.
 */
export const PAGE_CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** HTML text escaping (HTML §13.1.2.6: the five characters that can change markup). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>\n`;
}

/** Who is signed in, their roles, and a logout form carrying the session's CSRF token. */
export function accountPage(principal: Principal, csrfToken: string): string {
  const roles = principal.roles.map((role) => `<li>${escapeHtml(role)}</li>`).join('');
  return page(
    'Security realm: account',
    `<h1>Signed in</h1>
<dl><dt>User</dt><dd id="user">${escapeHtml(principal.name)}</dd><dt>Email</dt><dd id="email">${escapeHtml(principal.email ?? '')}</dd><dt>Principal</dt><dd id="principal">${escapeHtml(principal.id)}</dd></dl>
<h2>Roles</h2><ul id="roles">${roles}</ul>
<form method="post" action="/logout"><input type="hidden" name="${CSRF_FIELD}" value="${escapeHtml(csrfToken)}"><button type="submit">Sign out</button></form>`,
  );
}

export function signedOutPage(): string {
  return page('Security realm: signed out', '<h1>Signed out</h1><p><a href="/account">Sign in again</a></p>');
}
