import { createHash, X509Certificate } from 'node:crypto';
import { chromium, type BrowserContext } from 'playwright-core';
import { makeTempDir } from './support.js';

/** playwright-core's types, for tests that drive the browser (their package needs no dependency of its own). */
export type { BrowserContext, Page, Response as BrowserResponse } from 'playwright-core';

/** Debian's Chromium package (apt install chromium): the browser the browser tests drive. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: the pin format of Chromium's
 * --ignore-certificate-errors-spki-list.
 */
export function spkiSha256Base64(certificatePem: string | Buffer): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export interface TestBrowser {
  readonly context: BrowserContext;
  /** Closes the browser; its profile directory goes when the test process exits. */
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, driven by playwright-core, in a fresh profile (a temp dir), trusting
 * exactly the self-signed HTTPS certificates of `trust` and no other invalid certificate.
 *
 * Why a pin and not `ignoreHTTPSErrors`: that option makes the browser accept any certificate, so a
 * test would pass against the wrong server or a broken TLS setup. The appliance's development
 * certificate and the test IdP's are self-signed and cannot be added to a CA store without root, so
 * each is pinned by its public key hash with --ignore-certificate-errors-spki-list: Chromium then
 * accepts a certificate that fails validation only when its SPKI is one of the pins (and honours the
 * flag only with a --user-data-dir of its own, which the persistent context below passes). Host
 * name matching and every other TLS check stay on.
 *
 * The rest of the flags keep the run hermetic and quiet on a 2-core machine without a display or
 * network: no GPU, no sandbox (containers lack user namespaces), no QUIC, no first-run, component
 * update, sync or background traffic.
 */
export async function launchTestBrowser(options: { trust: readonly (string | Buffer)[] }): Promise<TestBrowser> {
  if (options.trust.length === 0) throw new Error('launchTestBrowser: name the certificates to trust');
  const pins = options.trust.map(spkiSha256Base64);
  const profile = makeTempDir('realm-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: DEBIAN_CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pins.join(',')}`,
    ],
  });
  return { context, close: () => context.close() };
}
