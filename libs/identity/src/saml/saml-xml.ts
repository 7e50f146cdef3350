import { DOMParser } from '@xmldom/xmldom';
import { IdentityError, type IdentityErrorCode, refused } from '../identity.error.js';

/** Namespaces of SAML 2.0 (saml-core §2.1, §3.1) and XML Signature (xmldsig-core §4). */
export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

// DOM node types (DOM Level 2 Core §1.1.1).
const ELEMENT_NODE = 1;
const CDATA_SECTION_NODE = 4;
const ENTITY_REFERENCE_NODE = 5;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;
const DOCUMENT_TYPE_NODE = 10;

/** The structural subset of the xmldom types this module reads. */
export interface XmlNode {
  readonly nodeType: number;
  /** Null or absent on xmldom's leaf nodes (text, attributes). */
  readonly childNodes: { readonly length: number; item(index: number): XmlNode | null } | null;
  readonly parentNode: XmlNode | null;
  readonly textContent: string | null;
}
export interface XmlElement extends XmlNode {
  readonly localName: string | null;
  readonly namespaceURI: string | null;
  readonly attributes: { readonly length: number; item(index: number): { readonly name: string; readonly value: string } | null };
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  toString(): string;
}
export interface XmlDocument extends XmlNode {
  readonly documentElement: XmlElement | null;
}

/**
 * Parses untrusted XML strictly: a DOCTYPE (and with it every entity declaration, internal or
 * external: XXE, billion laughs) is refused before the parser sees the text, and any parser
 * warning or error refuses the document. `failure` names the error class to raise.
 */
export function parseStrictXml(text: string, failure: IdentityErrorCode, what: string): XmlDocument {
  // XML 1.0 §2.8: a DOCTYPE can only appear in the prolog, but the text is searched as a whole so
  // that no parser quirk can let one through further on.
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) throw refused(failure, `the ${what} is refused: it contains a DOCTYPE`, 'DOCTYPE or ENTITY declaration');
  const problems: string[] = [];
  const record = (message: string) => {
    problems.push(String(message).split('\n')[0]!.slice(0, 200));
  };
  let doc: XmlDocument;
  try {
    doc = new DOMParser({ locator: {}, errorHandler: { warning: record, error: record, fatalError: record } }).parseFromString(text, 'text/xml') as unknown as XmlDocument;
  } catch (error) {
    throw refused(failure, `the ${what} is not well-formed XML`, `XML parser: ${String((error as Error).message).slice(0, 200)}`);
  }
  if (problems.length > 0 || !doc.documentElement) throw refused(failure, `the ${what} is not well-formed XML`, `XML parser: ${problems[0] ?? 'no document element'}`);
  return doc;
}

/** Every element below `node`, in document order, `node` included when it is an element. */
export function* elementsOf(node: XmlNode): Generator<XmlElement> {
  if (node.nodeType === ELEMENT_NODE) yield node as XmlElement;
  for (const child of childrenOf(node)) yield* elementsOf(child);
}

/** The element children of `parent` with that namespace and local name. */
export function childElements(parent: XmlNode, namespace: string, localName: string): XmlElement[] {
  const found: XmlElement[] = [];
  for (const child of childrenOf(parent)) {
    if (child.nodeType === ELEMENT_NODE && (child as XmlElement).localName === localName && (child as XmlElement).namespaceURI === namespace) found.push(child as XmlElement);
  }
  return found;
}

/** All elements of the document with that namespace and local name. */
export function descendants(node: XmlNode, namespace: string, localName: string): XmlElement[] {
  return [...elementsOf(node)].filter((e) => e.localName === localName && e.namespaceURI === namespace);
}

export function isElement(node: XmlNode | null, namespace: string, localName: string): node is XmlElement {
  return node !== null && node.nodeType === ELEMENT_NODE && (node as XmlElement).localName === localName && (node as XmlElement).namespaceURI === namespace;
}

/**
 * A node that changes meaning between the parser and the signature check: canonicalisation
 * without comments (xml-exc-c14n) drops comments, so `alice@realm.test<!---->.evil.com` is signed
 * as one string and read as another by a parser that stops at the comment; CDATA and processing
 * instructions invite the same games. None has any use in a SAML response; any of them refuses it.
 */
export function findAmbiguousNode(node: XmlNode): string | undefined {
  switch (node.nodeType) {
    case COMMENT_NODE:
      return 'an XML comment';
    case CDATA_SECTION_NODE:
      return 'a CDATA section';
    case PROCESSING_INSTRUCTION_NODE:
      return 'a processing instruction';
    case ENTITY_REFERENCE_NODE:
    case DOCUMENT_TYPE_NODE:
      return 'a DOCTYPE or entity reference';
  }
  for (const child of childrenOf(node)) {
    const found = findAmbiguousNode(child);
    if (found) return found;
  }
  return undefined;
}

function childrenOf(node: XmlNode): XmlNode[] {
  const list = node.childNodes;
  const children: XmlNode[] = [];
  if (!list) return children;
  for (let i = 0; i < list.length; i++) children.push(list.item(i)!);
  return children;
}

/** The trimmed text of an element that must contain text only. */
export function textOf(element: XmlElement): string {
  return (element.textContent ?? '').trim();
}

export function isIdentityError(error: unknown): error is IdentityError {
  return error instanceof IdentityError;
}
