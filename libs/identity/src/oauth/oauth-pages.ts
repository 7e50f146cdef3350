import type { ServerResponse } from 'node:http';

/**
 * The Content-Security-Policy of the authorization server's pages (W3C CSP3): nothing loads, no
 * script runs unless oidc-provider added the hash of its own form_post auto-submit script, forms
 * post only back here (or, for form_post, to the client's registered redirect URI's origin), and no
 * page can be framed.
 */
export const PAGE_CSP = "default-src 'none'; script-src 'none'; style-src 'none'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The final CSP of a response: `'none'` dropped from script-src when oidc-provider added a script
 * hash to it (the two cannot be combined), and the form_post target's origin added to form-action.
 */
export function finishPageCsp(csp: string, formPostOrigin: string | undefined): string {
  return csp
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive.length > 0)
    .map((directive) => {
      const [name, ...values] = directive.split(/\s+/);
      if (name === 'script-src' && values.some((v) => v.startsWith("'sha256-"))) return [name, ...values.filter((v) => v !== "'none'")].join(' ');
      if (name === 'form-action' && formPostOrigin !== undefined && !values.includes(formPostOrigin)) return [name, ...values, formPostOrigin].join(' ');
      return directive;
    })
    .join('; ');
}

export function sendPage(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.end(html);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

/** RFC 8628 §3.3: the user types the code the device shows. `form` is oidc-provider's (with its CSRF field). */
export function deviceInputPage(form: string, failed: boolean): string {
  return page(
    'Sign in a device',
    `${failed ? '<p>That code is unknown, expired or already used. Check the code on your device and try again.</p>' : '<p>Enter the code shown on your device.</p>'}
${form}
<p><button type="submit" form="op.deviceInputForm">Continue</button></p>`,
  );
}

/** RFC 8628 §5.4: the user confirms the code and the client before anything is authorised. */
export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Sign in a device',
    `<p>${escapeHtml(clientName)} asks for access to your keys. Check that your device shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
${form}
<p><button type="submit" form="op.deviceConfirmForm">Allow</button></p>`,
  );
}

export function deviceSuccessPage(): string {
  return page('Device signed in', '<p>You can return to your device.</p>');
}

export function errorPage(message: string): string {
  return page('Sign-in failed', `<p>${escapeHtml(message)}</p>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
