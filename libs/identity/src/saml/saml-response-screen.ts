import { refused } from '../identity.error.js';
import { childElements, descendants, elementsOf, findAmbiguousNode, NS, parseStrictXml, type XmlElement } from './saml-xml.js';

/** The largest SAMLResponse form field accepted (base64 text); a real response is a few KiB. */
export const MAX_SAML_RESPONSE_LENGTH = 256 * 1024;

/**
 * Signature algorithms (xmldsig-core §6.4, RFC 9231 §2.3) accepted by default; RSA-SHA1 only with
 * identity.saml.allowSha1. Anything else, including RSA-PSS and HMAC, is refused.
 */
const STRONG_SIGNATURE_ALGORITHMS = new Set(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
const STRONG_DIGEST_ALGORITHMS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
const SHA1_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1_DIGEST = 'http://www.w3.org/2000/09/xmldsig#sha1';

/** saml-core §5.4.3-§5.4.4: enveloped signature plus exclusive canonicalisation, nothing else. */
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ALLOWED_TRANSFORMS = new Set(['http://www.w3.org/2000/09/xmldsig#enveloped-signature', EXC_C14N]);
const ALLOWED_CANONICALIZATION = new Set([EXC_C14N]);

export interface ScreenedResponse {
  /** The decoded document, for node-saml to verify; nothing here is trusted yet. */
  readonly xml: string;
  /** Whether the Response carries a signature (always, unless identity.saml.requireSignedResponse is off). */
  readonly responseSigned: boolean;
  /** The Response's InResponseTo as sent (unverified: used to find the request, then re-read signed). */
  readonly inResponseTo: string | undefined;
  /** The Assertion's ID as sent (unverified). */
  readonly assertionId: string;
  /** SubjectConfirmationData NotBefore as sent, to tell "expired" from "not yet valid" when node-saml refuses either. */
  readonly subjectNotBefore: string | undefined;
}

/**
 * Checks the shape of an untrusted SAMLResponse before any signature is verified, and refuses
 * what no genuine IdP sends but attacks need (saml-core §5, SAML V2.0 security considerations
 * §6.4): a DOCTYPE (XXE), comments, CDATA or processing instructions (NameID truncation),
 * assertions anywhere but as the one child of the Response, signatures anywhere but on the
 * Response and that Assertion, duplicate IDs, references to anything but the signed element,
 * and algorithms outside the allowed set. The Response and the Assertion must both carry a
 * signature; whether each one verifies is node-saml's check, next.
 */
export function screenSamlResponse(encoded: string, options: { readonly allowSha1: boolean; readonly requireSignedResponse?: boolean }): ScreenedResponse {
  if (encoded.length > MAX_SAML_RESPONSE_LENGTH) {
    throw refused('IDENTITY_SAML_TOO_LARGE', `the SAMLResponse is larger than ${MAX_SAML_RESPONSE_LENGTH} bytes`, `SAMLResponse of ${encoded.length} characters`);
  }
  const base64 = encoded.replace(/[\r\n\t ]+/g, '');
  if (base64.length === 0 || base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    throw refused('IDENTITY_SAML_MALFORMED', 'the SAMLResponse is not base64 (SAML bindings §3.5.4)', 'SAMLResponse is not base64');
  }
  let xml: string;
  try {
    xml = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(base64, 'base64'));
  } catch {
    throw refused('IDENTITY_SAML_MALFORMED', 'the SAMLResponse is not UTF-8 XML', 'SAMLResponse is not UTF-8');
  }
  const doc = parseStrictXml(xml, 'IDENTITY_SAML_MALFORMED', 'SAMLResponse');
  const malformed = (reason: string) => refused('IDENTITY_SAML_MALFORMED', `the SAMLResponse is malformed: ${reason}`, reason);
  const wrapped = (reason: string) => refused('IDENTITY_SAML_SIGNATURE_INVALID', 'the SAML response signature is missing, invalid or from an untrusted key', reason);

  const ambiguous = findAmbiguousNode(doc);
  if (ambiguous) throw malformed(`it contains ${ambiguous}`);

  const response = doc.documentElement!;
  if (response.localName !== 'Response' || response.namespaceURI !== NS.protocol) throw malformed('the document is not a samlp:Response');
  if (descendants(response, NS.assertion, 'EncryptedAssertion').length > 0) throw malformed('encrypted assertions are not supported (no SP decryption key)');
  const assertions = descendants(response, NS.assertion, 'Assertion');
  const ownAssertions = childElements(response, NS.assertion, 'Assertion');
  if (ownAssertions.length === 0 && assertions.length === 0) {
    // saml-core §3.2.2.2: an IdP that did not authenticate the user answers with an error status and no assertion.
    const status = childElements(response, NS.protocol, 'Status')[0];
    const code = status && childElements(status, NS.protocol, 'StatusCode')[0]?.getAttribute('Value');
    if (code && code !== 'urn:oasis:names:tc:SAML:2.0:status:Success') throw refused('IDENTITY_SAML_STATUS', 'the IdP did not log you in (its response carries an error status)', 'non-success StatusCode');
    throw malformed('it has no Assertion');
  }
  // An assertion anywhere else (in Extensions, in another assertion's Advice or Subject, a second
  // sibling) is how signature wrapping hides a forged assertion next to a signed one.
  if (ownAssertions.length !== 1 || assertions.length !== 1) throw wrapped(`${assertions.length} Assertion elements, ${ownAssertions.length} of them children of the Response (signature wrapping)`);
  const assertion = ownAssertions[0]!;

  const ids = new Set<string>();
  for (const element of elementsOf(response)) {
    for (const name of ['ID', 'Id', 'id']) {
      if (!element.hasAttribute(name)) continue;
      const id = element.getAttribute(name) ?? '';
      if (ids.has(id)) throw wrapped(`the ID ${JSON.stringify(id.slice(0, 80))} appears twice (signature wrapping)`);
      ids.add(id);
    }
  }

  const responseSignatures = childElements(response, NS.dsig, 'Signature');
  const assertionSignatures = childElements(assertion, NS.dsig, 'Signature');
  const allSignatures = descendants(response, NS.dsig, 'Signature');
  const responseSigned = responseSignatures.length > 0;
  // identity.saml.requireSignedResponse=false: the Response may come unsigned; if signed, it is checked all the same.
  if (!responseSigned && options.requireSignedResponse !== false) throw wrapped('the Response is not signed');
  if (assertionSignatures.length === 0) throw wrapped('the Assertion is not signed');
  const expected = responseSigned ? 2 : 1;
  if (responseSignatures.length > 1 || assertionSignatures.length !== 1 || allSignatures.length !== expected) {
    throw wrapped(`${allSignatures.length} Signature elements where the Assertion${responseSigned ? ' and the Response carry one each' : ' carries one'}`);
  }
  if (responseSigned) checkSignature(responseSignatures[0]!, response, options.allowSha1, wrapped);
  checkSignature(assertionSignatures[0]!, assertion, options.allowSha1, wrapped);

  const inResponseTo = response.getAttribute('InResponseTo');
  const assertionId = assertion.getAttribute('ID');
  if (!assertionId) throw malformed('the Assertion has no ID');
  const confirmationData = descendants(assertion, NS.assertion, 'SubjectConfirmationData')[0];
  return {
    xml,
    responseSigned,
    inResponseTo: inResponseTo === null || inResponseTo === '' ? undefined : inResponseTo,
    assertionId,
    subjectNotBefore: confirmationData?.getAttribute('NotBefore') ?? undefined,
  };
}

/**
 * One enveloped signature over exactly its parent (xmldsig-core §4.4.3, saml-core §5.4.2: the
 * Reference URI is `#` + the signed element's ID), with allowed algorithms only.
 */
function checkSignature(signature: XmlElement, signed: XmlElement, allowSha1: boolean, wrapped: (reason: string) => Error): void {
  const what = signed.localName ?? 'element';
  const signedInfo = childElements(signature, NS.dsig, 'SignedInfo');
  if (signedInfo.length !== 1) throw wrapped(`the ${what} signature has ${signedInfo.length} SignedInfo elements`);
  const references = childElements(signedInfo[0]!, NS.dsig, 'Reference');
  const id = signed.getAttribute('ID');
  if (references.length !== 1 || !id || references[0]!.getAttribute('URI') !== `#${id}`) throw wrapped(`the ${what} signature does not reference exactly the ${what} (signature wrapping)`);

  const signatureMethods = descendants(signature, NS.dsig, 'SignatureMethod').map((m) => m.getAttribute('Algorithm') ?? '');
  const digestMethods = descendants(signature, NS.dsig, 'DigestMethod').map((m) => m.getAttribute('Algorithm') ?? '');
  for (const algorithm of signatureMethods) {
    if (!(STRONG_SIGNATURE_ALGORITHMS.has(algorithm) || (allowSha1 && algorithm === SHA1_SIGNATURE))) {
      throw refused('IDENTITY_SAML_WEAK_ALGORITHM', `the ${what} is signed with a refused algorithm (RSA-SHA256 or stronger is required; identity.saml.allowSha1 enables RSA-SHA1)`, `SignatureMethod ${algorithm.slice(0, 100)}`);
    }
  }
  for (const algorithm of digestMethods) {
    if (!(STRONG_DIGEST_ALGORITHMS.has(algorithm) || (allowSha1 && algorithm === SHA1_DIGEST))) {
      throw refused('IDENTITY_SAML_WEAK_ALGORITHM', `the ${what} signature uses a refused digest (SHA-256 or stronger is required; identity.saml.allowSha1 enables SHA-1)`, `DigestMethod ${algorithm.slice(0, 100)}`);
    }
  }
  if (signatureMethods.length !== 1 || digestMethods.length !== 1) throw wrapped(`the ${what} signature has ${signatureMethods.length} SignatureMethod and ${digestMethods.length} DigestMethod elements`);
  for (const method of descendants(signature, NS.dsig, 'CanonicalizationMethod')) {
    if (!ALLOWED_CANONICALIZATION.has(method.getAttribute('Algorithm') ?? '')) throw wrapped(`the ${what} signature uses a refused canonicalization method`);
  }
  const transforms = descendants(signature, NS.dsig, 'Transform');
  if (transforms.length > 2 || transforms.some((t) => !ALLOWED_TRANSFORMS.has(t.getAttribute('Algorithm') ?? ''))) throw wrapped(`the ${what} signature uses refused transforms`);
}
