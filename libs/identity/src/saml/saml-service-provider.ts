import { SAML, SamlStatusError, ValidateInResponseTo, type Profile, type SamlConfig as NodeSamlConfig } from '@node-saml/passport-saml';
import { getVerifiedXml } from '@node-saml/node-saml/lib/xml.js';
import type { AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import type { Database } from '@realm/persistence';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError, type IdentityErrorCode, refused } from '../identity.error.js';
import { normalizeEmail, normalizeUserName, type Principal } from '../principals/principal.js';
import type { PrincipalService } from '../principals/principal.service.js';
import { type IdpMetadata, readIdpMetadataFile } from './idp-metadata.js';
import { checkReturnTo } from './return-to.js';
import { attributeValues, rolesFromGroups } from './role-mapping.js';
import { SamlRequestRepository } from './saml-request.repository.js';
import { SamlRequestStore } from './saml-request-store.js';
import { screenSamlResponse, type ScreenedResponse } from './saml-response-screen.js';
import { childElements, descendants, NS, parseStrictXml, textOf, type XmlElement } from './saml-xml.js';

/** saml-profiles §3.3: the bearer confirmation method of Web Browser SSO. */
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
/** The attribute name that designates the Subject's NameID instead of an attribute (identity.saml.userIdAttribute). */
const NAME_ID = 'nameID';

export interface SamlServiceProviderOptions {
  /** Milliseconds since the epoch, for request ids and audit; node-saml reads the system clock for assertion times. */
  readonly clock?: () => number;
  /** The IdP metadata already fetched (identity.saml.idpMetadataUrl); otherwise idpMetadataFile is read. */
  readonly metadata?: IdpMetadata;
}

/** The form the IdP's page posts to the ACS (SAML bindings §3.5.4). */
export interface SamlPostForm {
  readonly SAMLResponse?: unknown;
  readonly RelayState?: unknown;
}

export interface SamlLogin {
  /** The user, created or updated from the assertion (roles from groups). */
  readonly principal: Principal;
  readonly created: boolean;
  /** The validated same-origin path to continue at. */
  readonly returnTo: string;
}

/**
 * The SAML 2.0 Web Browser SSO service provider (saml-profiles §4.1) over node-saml.
 *
 * Defaults are the strict ones and most are not settings: a signed Response *and* a signed
 * Assertion, RSA-SHA256 or stronger, audience = our entity id, Destination and Recipient = our ACS
 * URL, NotBefore/NotOnOrAfter with identity.saml.clockSkew, InResponseTo always checked against a
 * pending request in the database and each request answered once, IdP-initiated responses refused
 * unless identity.saml.allowIdpInitiated. Verify, then use: identity, groups, Destination and
 * Recipient are read from the XML the signatures cover, never from the document as posted.
 *
 * Every refusal raises a typed {@link IdentityError} and writes an audit record with the reason;
 * no message, log line or audit record contains the response or the assertion.
 */
export class SamlServiceProvider {
  readonly acsUrl: string;
  readonly entityId: string;
  private readonly requests: SamlRequestRepository;
  private readonly clock: () => number;
  private readonly settings: RealmConfig['identity']['saml'];

  private constructor(
    config: RealmConfig,
    private metadata: IdpMetadata,
    db: Database,
    private readonly audit: AuditLog,
    private readonly principals: PrincipalService,
    options: SamlServiceProviderOptions,
  ) {
    this.settings = config.identity.saml;
    this.acsUrl = `${config.identity.issuer}/saml/acs`;
    this.entityId = config.identity.saml.spEntityId;
    this.requests = new SamlRequestRepository(db);
    this.clock = options.clock ?? Date.now;
  }

  /**
   * The service provider configured by identity.saml.*, or undefined when SAML login is off (no
   * identity.saml.idpMetadataFile). Reads and checks the IdP metadata now, so a bad file stops the
   * start with one line naming the setting.
   */
  static open(config: RealmConfig, db: Database, audit: AuditLog, principals: PrincipalService, options: SamlServiceProviderOptions = {}): SamlServiceProvider | undefined {
    if (options.metadata) return new SamlServiceProvider(config, options.metadata, db, audit, principals, options);
    const file = config.identity.saml.idpMetadataFile;
    if (file === undefined) return undefined;
    return new SamlServiceProvider(config, readIdpMetadataFile(file), db, audit, principals, options);
  }

  /** The IdP this SP trusts now. */
  get idp(): IdpMetadata {
    return this.metadata;
  }

  /**
   * Trusts newly fetched metadata from the next login on (a signing-key rollover at the IdP). The
   * IdP itself may not change: a different entityID is refused and the current metadata kept.
   */
  replaceMetadata(metadata: IdpMetadata): void {
    if (metadata.entityId !== this.metadata.entityId) {
      throw refused('IDENTITY_SAML_METADATA_INVALID', `the refreshed IdP metadata names another IdP (${metadata.entityId.slice(0, 200)}, not ${this.metadata.entityId}): kept the current one`, 'entityID changed');
    }
    this.metadata = metadata;
  }

  /** Our SP metadata (saml-metadata §2.4.4): entity id, ACS (HTTP-POST), WantAssertionsSigned. */
  metadataXml(): string {
    return this.saml(undefined).generateServiceProviderMetadata(null, null);
  }

  /**
   * The IdP URL that starts an SP-initiated login (HTTP-Redirect binding, SAML bindings §3.4) with
   * a fresh AuthnRequest id recorded in the database; `returnTo` travels as RelayState.
   */
  async loginUrl(returnTo: unknown, context?: IdentityAuditContext): Promise<string> {
    let path: string;
    try {
      path = checkReturnTo(returnTo);
    } catch (error) {
      await this.auditRefusal(error as IdentityError, 'identity.saml.login.start', context);
      throw error;
    }
    const store = new SamlRequestStore(this.requests, this.clock, this.settings.requestLifetimeSeconds * 1000);
    return this.saml(store).getAuthorizeUrlAsync(path, undefined, {});
  }

  /**
   * Verifies a posted Response and provisions its user: the ACS step of saml-profiles §4.1.4.
   * Any failure is refused with its own error code, audited, and changes nothing.
   */
  async acceptResponse(form: SamlPostForm, context?: IdentityAuditContext): Promise<SamlLogin> {
    try {
      // The RelayState is checked first: an open redirect is refused before anything is created.
      const returnTo = checkReturnTo(form.RelayState);
      if (typeof form.SAMLResponse !== 'string') throw refused('IDENTITY_SAML_MALFORMED', 'the form has no SAMLResponse field (SAML bindings §3.5.4)', 'no SAMLResponse');
      const screened = screenSamlResponse(form.SAMLResponse, { allowSha1: this.settings.allowSha1, requireSignedResponse: this.settings.requireSignedResponse });
      if (screened.inResponseTo === undefined && !this.settings.allowIdpInitiated) {
        throw refused('IDENTITY_SAML_UNSOLICITED', 'unsolicited (IdP-initiated) SAML responses are refused; start at /saml/login, or set identity.saml.allowIdpInitiated', 'Response without InResponseTo');
      }
      const store = new SamlRequestStore(this.requests, this.clock, this.settings.requestLifetimeSeconds * 1000);
      let profile: Profile | null;
      try {
        ({ profile } = await this.saml(store).validatePostResponseAsync({ SAMLResponse: Buffer.from(screened.xml, 'utf8').toString('base64') }));
      } catch (error) {
        throw classifyNodeSamlError(error, screened);
      }
      if (!profile) throw refused('IDENTITY_SAML_MALFORMED', 'the SAML response carries no assertion', 'node-saml returned no profile');

      const verified = this.readVerified(screened, profile);
      await this.useOnce(verified, store);

      const userName = this.userNameOf(profile);
      const email = this.emailOf(profile);
      const groups = attributeValues(profile.attributes && (profile.attributes as Record<string, unknown>)[this.settings.attributes.groups]);
      const roles = rolesFromGroups(groups, this.settings.roleGroups);
      if (roles.length === 0) {
        throw refused('IDENTITY_SAML_NO_ROLE', 'your IdP groups grant no role on this appliance; ask an administrator (identity.saml.roles.*)', `no role for ${groups.length} groups`);
      }
      const existing = await this.principals.findUserByName(userName);
      if (existing && existing.status !== 'active') throw refused('IDENTITY_PRINCIPAL_DISABLED', 'this account is disabled on the appliance', `principal ${existing.id} is ${existing.status}`);
      const { principal, created } = await this.principals.upsertUser({ userName, ...(email !== undefined && { email }), roles }, context);
      if (principal.status !== 'active') throw refused('IDENTITY_PRINCIPAL_DISABLED', 'this account is disabled on the appliance', `principal ${principal.id} is ${principal.status}`);

      await recordIdentityEvent(this.audit, context, {
        action: 'identity.saml.login',
        outcome: 'success',
        actor: { type: 'user', id: principal.id },
        resources: [principal.id],
        details: { idp: this.idp.entityId, created, roles: [...principal.roles], credentialEpoch: principal.credentialEpoch, solicited: verified.inResponseTo !== undefined },
      });
      return { principal, created, returnTo };
    } catch (error) {
      if (error instanceof IdentityError) await this.auditRefusal(error, 'identity.saml.login', context);
      throw error;
    }
  }

  /**
   * Reads what the rest of the login relies on from the signed content only: the Response as its
   * signature covers it (re-verified here: node-saml keeps it to itself) and the Assertion as
   * node-saml verified it.
   */
  private readVerified(screened: ScreenedResponse, profile: Profile): { inResponseTo: string | undefined; assertionId: string; notOnOrAfter: number } {
    const posted = parseStrictXml(screened.xml, 'IDENTITY_SAML_MALFORMED', 'SAMLResponse');
    // A Response signature, when there is one, must verify (node-saml does not insist when
    // identity.saml.requireSignedResponse is off); when there is none, only the Assertion is read as
    // signed, and what the Response says is only compared with it.
    const signedResponseXml = screened.responseSigned ? getVerifiedXml(screened.xml, posted.documentElement as never, [...this.idp.signingCertificates]) : undefined;
    const signedAssertionXml = profile.getAssertionXml?.();
    if ((screened.responseSigned && !signedResponseXml) || !signedAssertionXml) throw refused('IDENTITY_SAML_SIGNATURE_INVALID', 'the SAML response signature is missing, invalid or from an untrusted key', 'no verified Response or Assertion');
    const response = signedResponseXml ? parseStrictXml(signedResponseXml, 'IDENTITY_SAML_MALFORMED', 'signed Response').documentElement! : posted.documentElement!;
    const assertion = parseStrictXml(signedAssertionXml, 'IDENTITY_SAML_MALFORMED', 'signed Assertion').documentElement!;

    // saml-profiles §4.1.4.5: a signed Response names where it was sent (an unsigned one may, and
    // then must name us too; the signed Recipient below is what binds it to this ACS).
    const destination = response.getAttribute('Destination');
    if (destination !== this.acsUrl && (screened.responseSigned || destination !== null)) {
      throw refused('IDENTITY_SAML_DESTINATION', `the SAML response was sent to another service (Destination must be ${this.acsUrl})`, 'Destination mismatch');
    }
    const issuers = [...childElements(response, NS.assertion, 'Issuer'), ...childElements(assertion, NS.assertion, 'Issuer')];
    if (childElements(assertion, NS.assertion, 'Issuer').length !== 1 || issuers.some((issuer) => textOf(issuer) !== this.idp.entityId)) {
      throw refused('IDENTITY_SAML_ISSUER', `the SAML response is not from the configured IdP (${this.idp.entityId})`, 'Issuer mismatch');
    }
    const audiences = descendants(assertion, NS.assertion, 'AudienceRestriction');
    if (audiences.length === 0 || audiences.some((restriction) => !childElements(restriction, NS.assertion, 'Audience').some((a) => textOf(a) === this.entityId))) {
      throw refused('IDENTITY_SAML_AUDIENCE', `the SAML assertion is for another service (Audience must be ${this.entityId})`, 'Audience mismatch');
    }
    // saml-profiles §4.1.4.2: bearer confirmations name our ACS and, when solicited, our request.
    const inResponseTo = response.getAttribute('InResponseTo') || undefined;
    const bearer = descendants(assertion, NS.assertion, 'SubjectConfirmation').filter((c) => c.getAttribute('Method') === BEARER);
    const data = bearer.map((c) => childElements(c, NS.assertion, 'SubjectConfirmationData')[0]).filter((d): d is XmlElement => d !== undefined);
    if (data.length === 0 || data.length !== bearer.length) throw refused('IDENTITY_SAML_MALFORMED', 'the SAML assertion has no bearer SubjectConfirmationData', 'no bearer confirmation');
    if (data.some((d) => d.getAttribute('Recipient') !== this.acsUrl)) {
      throw refused('IDENTITY_SAML_RECIPIENT', `the SAML assertion was issued for another service (Recipient must be ${this.acsUrl})`, 'Recipient mismatch');
    }
    if (data.some((d) => (d.getAttribute('InResponseTo') || undefined) !== inResponseTo)) {
      throw refused('IDENTITY_SAML_REPLAY', 'the SAML response answers no pending login of this appliance', 'SubjectConfirmationData InResponseTo differs from the Response');
    }
    const notOnOrAfter = Math.min(...data.map((d) => Date.parse(d.getAttribute('NotOnOrAfter') ?? '')));
    if (!Number.isFinite(notOnOrAfter)) throw refused('IDENTITY_SAML_MALFORMED', 'the SAML assertion has no NotOnOrAfter in its SubjectConfirmationData', 'no NotOnOrAfter');
    const assertionId = assertion.getAttribute('ID');
    if (!assertionId || assertionId !== screened.assertionId) throw refused('IDENTITY_SAML_MALFORMED', 'the SAML assertion has no ID', 'no assertion ID');
    return { inResponseTo, assertionId, notOnOrAfter };
  }

  /**
   * One login per response. Solicited: this operation must be the one whose DELETE removed the
   * pending request (a second submission, concurrent or later, finds it gone). Unsolicited: the
   * assertion id is recorded until the assertion expires, and a second use of it is a replay.
   */
  private async useOnce(verified: { inResponseTo: string | undefined; assertionId: string; notOnOrAfter: number }, store: SamlRequestStore): Promise<void> {
    if (verified.inResponseTo !== undefined) {
      if (store.consumed(verified.inResponseTo) || (await this.requests.delete(verified.inResponseTo))) return;
      throw refused('IDENTITY_SAML_REPLAY', 'the SAML response answers no pending login of this appliance (already used, expired or unknown)', 'InResponseTo used by another submission');
    }
    const now = this.clock();
    const expiresAt = verified.notOnOrAfter + this.settings.clockSkewSeconds * 1000;
    if (!(await this.requests.claim({ id: `assertion:${verified.assertionId}`.slice(0, 128), createdAt: new Date(now), expiresAt: new Date(Math.max(expiresAt, now + 1000)) }))) {
      throw refused('IDENTITY_SAML_REPLAY', 'this SAML assertion was already used', 'unsolicited assertion ID seen before');
    }
  }

  private userNameOf(profile: Profile): string {
    const attribute = this.settings.attributes.userId;
    const values = attribute === NAME_ID ? attributeValues(profile.nameID) : attributeValues(profile.attributes && (profile.attributes as Record<string, unknown>)[attribute]);
    if (values.length !== 1) throw refused('IDENTITY_SAML_MALFORMED', `the SAML assertion must carry exactly one user id (identity.saml.userIdAttribute = ${attribute})`, `${values.length} user id values`);
    try {
      return normalizeUserName(values[0]);
    } catch {
      throw refused('IDENTITY_SAML_MALFORMED', `the SAML assertion's user id is not a valid user name (identity.saml.userIdAttribute = ${attribute})`, 'user id not a valid userName');
    }
  }

  /** The email when the assertion carries exactly one well-formed address; otherwise the stored one is left alone. */
  private emailOf(profile: Profile): string | undefined {
    const values = attributeValues(profile.attributes && (profile.attributes as Record<string, unknown>)[this.settings.attributes.email]);
    if (values.length !== 1) return undefined;
    try {
      return normalizeEmail(values[0]) ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** node-saml, configured strictly, with `store` for InResponseTo (undefined: metadata only). */
  private saml(store: SamlRequestStore | undefined): SAML {
    const options: NodeSamlConfig = {
      issuer: this.entityId,
      callbackUrl: this.acsUrl,
      entryPoint: this.idp.singleSignOnUrl,
      idpIssuer: this.idp.entityId,
      idpCert: [...this.idp.signingCertificates],
      audience: this.entityId,
      wantAuthnResponseSigned: this.settings.requireSignedResponse,
      wantAssertionsSigned: true,
      validateInResponseTo: this.settings.allowIdpInitiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: this.settings.requestLifetimeSeconds * 1000,
      acceptedClockSkewMs: this.settings.clockSkewSeconds * 1000,
      // Requests are not signed (no SP key), but node-saml's default would be SHA-1 if they were.
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      // Which NameID format and authentication context to use is the IdP's policy, not ours.
      identifierFormat: null,
      disableRequestedAuthnContext: true,
      ...(store !== undefined && { cacheProvider: store }),
    };
    return new SAML(options);
  }

  private async auditRefusal(error: IdentityError, action: string, context?: IdentityAuditContext): Promise<void> {
    await recordIdentityEvent(this.audit, context, {
      action,
      outcome: 'denied',
      reason: error.code,
      details: { idp: this.idp.entityId, cause: safeReason(error) },
    });
  }
}

/**
 * node-saml reports failures as plain Errors; their messages are its API, mapped here, in one
 * place, to our codes. An unknown message is a malformed response: refused either way.
 */
function classifyNodeSamlError(error: unknown, screened: ScreenedResponse): IdentityError {
  if (error instanceof IdentityError) return error;
  if (error instanceof SamlStatusError) return refused('IDENTITY_SAML_STATUS', 'the IdP did not log you in (its response carries an error status)', 'non-success StatusCode');
  const message = String((error as Error | undefined)?.message ?? error);
  const as = (code: IdentityErrorCode, text: string) => refused(code, text, `node-saml: ${message.slice(0, 160)}`);
  if (/InResponseTo is missing/.test(message)) return as('IDENTITY_SAML_UNSOLICITED', 'unsolicited (IdP-initiated) SAML responses are refused; start at /saml/login');
  if (/InResponseTo/.test(message)) return as('IDENTITY_SAML_REPLAY', 'the SAML response answers no pending login of this appliance (already used, expired or unknown)');
  if (/signature|ID cannot refer|Referenced node|transforms/i.test(message)) return as('IDENTITY_SAML_SIGNATURE_INVALID', 'the SAML response signature is missing, invalid or from an untrusted key');
  if (/not yet valid/.test(message)) return as('IDENTITY_SAML_NOT_YET_VALID', 'the SAML assertion is not valid yet (NotBefore; check the clocks or identity.saml.clockSkew)');
  if (/expired/.test(message)) return as('IDENTITY_SAML_EXPIRED', 'the SAML assertion has expired (NotOnOrAfter; check the clocks or identity.saml.clockSkew)');
  if (/No valid subject confirmation/.test(message)) {
    const notBefore = Date.parse(screened.subjectNotBefore ?? '');
    return Number.isFinite(notBefore) && notBefore > Date.now()
      ? as('IDENTITY_SAML_NOT_YET_VALID', 'the SAML assertion is not valid yet (NotBefore; check the clocks or identity.saml.clockSkew)')
      : as('IDENTITY_SAML_EXPIRED', 'the SAML assertion has expired (NotOnOrAfter; check the clocks or identity.saml.clockSkew)');
  }
  if (/audience|AudienceRestriction/i.test(message)) return as('IDENTITY_SAML_AUDIENCE', 'the SAML assertion is for another service (Audience)');
  if (/issuer/i.test(message)) return as('IDENTITY_SAML_ISSUER', 'the SAML response is not from the configured IdP');
  return as('IDENTITY_SAML_MALFORMED', 'the SAML response is malformed');
}

/** The refusal's internal reason for the audit record: our own text, bounded, single-line. */
function safeReason(error: IdentityError): string {
  const cause = error.cause instanceof Error ? error.cause.message : error.message;
  return cause.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);
}
