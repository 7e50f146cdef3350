import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { refused } from '../identity.error.js';
import { childElements, descendants, NS, parseStrictXml, textOf } from './saml-xml.js';

/** SAML bindings §3.4: the binding our AuthnRequests travel by. */
export const HTTP_REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** What the SP takes from the enterprise IdP's metadata (saml-metadata §2.4.3 IDPSSODescriptor). */
export interface IdpMetadata {
  readonly entityId: string;
  /** The HTTP-Redirect SingleSignOnService endpoint. */
  readonly singleSignOnUrl: string;
  /**
   * Every signing certificate, PEM: during a key rollover the IdP publishes the old and the new
   * one, and a response signed by either is accepted.
   */
  readonly signingCertificates: readonly string[];
}

const MAX_METADATA_BYTES = 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;
const SETTING = 'identity.saml.idpMetadataFile';
const URL_SETTING = 'identity.saml.idpMetadataUrl';

export function readIdpMetadataFile(path: string): IdpMetadata {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_METADATA_BYTES) throw new Error(`larger than ${MAX_METADATA_BYTES} bytes`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw refused('IDENTITY_SAML_METADATA_INVALID', `cannot read the IdP metadata file ${path} (${SETTING})`, String((error as Error).message));
  }
  return parseIdpMetadata(text);
}

/**
 * Fetches the IdP metadata over HTTPS, trusting `caPem` (identity.saml.idpMetadataCaFile) or the
 * system store: the TLS server authentication of the IdP's own host is what vouches for the
 * certificates in it, so there is no fallback to http and no redirect is followed.
 */
export function fetchIdpMetadata(url: string, caPem?: string): Promise<IdpMetadata> {
  const fail = (reason: string) => refused('IDENTITY_SAML_METADATA_INVALID', `cannot fetch the IdP metadata from ${url} (${URL_SETTING}): ${reason}`, reason);
  return new Promise<string>((resolve, reject) => {
    if (!url.startsWith('https://')) return reject(fail('not an https URL'));
    const req = request(url, { method: 'GET', headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' }, timeout: FETCH_TIMEOUT_MS, ...(caPem !== undefined && { ca: caPem }) }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(fail(`HTTP ${res.statusCode}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_METADATA_BYTES) {
          req.destroy();
          reject(fail(`larger than ${MAX_METADATA_BYTES} bytes`));
        } else chunks.push(chunk);
      });
      res.on('end', () => {
        try {
          resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
        } catch {
          reject(fail('not UTF-8'));
        }
      });
      res.on('error', (error) => reject(fail(error.message)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS / 1000} s`)));
    req.on('error', (error) => reject(fail(error.message)));
    req.end();
  }).then((text) => parseIdpMetadata(text, URL_SETTING));
}

/**
 * Parses an EntityDescriptor with one IDPSSODescriptor (saml-metadata §2.3.2, §2.4.3): its
 * entityID, its HTTP-Redirect SingleSignOnService (https only) and the certificates of its
 * KeyDescriptors for signing (`use="signing"`, or no `use`: both, §2.4.1.1).
 */
export function parseIdpMetadata(text: string, setting = SETTING): IdpMetadata {
  const fail = (what: string) => refused('IDENTITY_SAML_METADATA_INVALID', `the IdP metadata (${setting}) ${what}`, what);
  const doc = parseStrictXml(text, 'IDENTITY_SAML_METADATA_INVALID', `IdP metadata (${setting})`);
  const root = doc.documentElement!;
  if (root.localName !== 'EntityDescriptor' || root.namespaceURI !== NS.metadata) throw fail('must be one md:EntityDescriptor');
  const entityId = root.getAttribute('entityID')?.trim() ?? '';
  if (entityId === '' || entityId.length > 1024) throw fail('has no entityID');
  const descriptors = childElements(root, NS.metadata, 'IDPSSODescriptor');
  if (descriptors.length !== 1) throw fail('must have exactly one IDPSSODescriptor');
  const idp = descriptors[0]!;

  const redirect = childElements(idp, NS.metadata, 'SingleSignOnService').filter((s) => s.getAttribute('Binding') === HTTP_REDIRECT_BINDING);
  const location = redirect[0]?.getAttribute('Location')?.trim();
  if (!location) throw fail('has no SingleSignOnService with the HTTP-Redirect binding');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw fail('has a SingleSignOnService Location that is not a URL');
  }
  if (url.protocol !== 'https:') throw fail('has a SingleSignOnService Location that is not https');

  const signingCertificates: string[] = [];
  for (const descriptor of childElements(idp, NS.metadata, 'KeyDescriptor')) {
    const use = descriptor.getAttribute('use');
    if (use !== null && use !== 'signing') continue;
    for (const element of descendants(descriptor, NS.dsig, 'X509Certificate')) {
      const base64 = textOf(element).replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw fail('has an X509Certificate that is not base64');
      try {
        new X509Certificate(Buffer.from(base64, 'base64'));
      } catch {
        throw fail('has an X509Certificate that is not a DER certificate');
      }
      const pem = `-----BEGIN CERTIFICATE-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
      if (!signingCertificates.includes(pem)) signingCertificates.push(pem);
    }
  }
  if (signingCertificates.length === 0) throw fail('has no signing certificate (KeyDescriptor use="signing")');
  return { entityId, singleSignOnUrl: url.toString(), signingCertificates };
}
