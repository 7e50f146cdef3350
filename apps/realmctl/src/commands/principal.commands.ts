import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { operatorActor, withOperatorSession } from '../operator-context.js';
import { CommandFailure, type Output } from '../output.js';

/** `realmctl principal create-user NAME [--email E] [--role R]...` (SCIM and SAML provision users later). */
export async function createUserCommand(out: Output, userName: string, options: { email?: string; role?: string[] }): Promise<void> {
  await withOperatorSession(async ({ identityAndKms }) => {
    const { identity } = await identityAndKms();
    const principal = await identity.principals.createUser(
      { userName, ...(options.email !== undefined && { email: options.email }), ...(options.role && { roles: options.role as never }) },
      { actor: operatorActor() },
    );
    out.line(`created user ${principal.id} (${userName}) with roles ${principal.roles.join(', ')}`);
  });
}

/**
 * `realmctl principal create-service NAME --key-out FILE --cert-out FILE`: a service principal and
 * an EC P-256 key certified by the service CA, for bots and the indexer (`credential.jwk` + x5c).
 * The private key is written 0600 and never stored by the appliance.
 */
export async function createServiceCommand(out: Output, name: string, options: { keyOut: string; certOut: string; validityDays: number }): Promise<void> {
  await withOperatorSession(async ({ identityAndKms }) => {
    const { identity } = await identityAndKms();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = await identity.serviceCa.issueServiceCertificate(name, publicKey, { validityDays: options.validityDays }, { actor: operatorActor() });
    writeFileSync(options.keyOut, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    const chain = issued.x5c.map((der) => `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`).join('');
    writeFileSync(options.certOut, chain, { flag: 'wx' });
    out.line(`created service ${issued.principal.id}: certificate ${issued.serialNumber} (SHA-256 ${issued.fingerprintSha256}) valid until ${issued.notAfter.toISOString()}; key in ${options.keyOut}, chain in ${options.certOut}`);
  });
}

/**
 * `realmctl token issue PRINCIPAL --client-id ID`: a KMS access token, printed on stdout. For
 * development and tests only, until SAML sign-in issues tokens: it would let an operator act as
 * any user, so it is refused when env is production.
 */
export async function issueTokenCommand(out: Output, principalId: string, options: { clientId: string; lifetime?: number }): Promise<void> {
  await withOperatorSession(async ({ config, identityAndKms }) => {
    if (config.env === 'production') throw new CommandFailure('realmctl token issue is refused when env is production: users obtain tokens through SSO', 2);
    const { identity } = await identityAndKms();
    const token = await identity.tokens.issueAccessToken(principalId, { audience: 'kms', clientId: options.clientId, ...(options.lifetime !== undefined && { lifetimeSeconds: options.lifetime }) }, { actor: operatorActor() });
    out.line(token.accessToken);
  });
}

/** `realmctl principal disable ID`: its tokens and certificates are refused on the very next request. */
export async function disablePrincipalCommand(out: Output, principalId: string): Promise<void> {
  await withOperatorSession(async ({ identityAndKms }) => {
    const { identity } = await identityAndKms();
    await identity.principals.disable(principalId, { actor: operatorActor() });
    out.line(`disabled ${principalId}: its access tokens and certificates are refused from now on`);
  });
}

/**
 * `realmctl ca certificate`: the appliance CA (PEM). Clients that verify the KMS static key in
 * development trust it; services' certificates chain to it.
 */
export async function caCertificateCommand(out: Output): Promise<void> {
  await withOperatorSession(async ({ identityAndKms }) => {
    const { identity } = await identityAndKms();
    out.line((await identity.serviceCa.caCertificatePem()).trimEnd());
  });
}
