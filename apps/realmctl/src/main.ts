import 'reflect-metadata';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '@realm/config';
import { describeError } from '@realm/errors';
import { auditVerifyCommand } from './commands/audit.commands.js';
import { CLIENT_GRANT_NAMES, createClientCommand, deleteClientCommand, listClientsCommand } from './commands/client.commands.js';
import { initCommand } from './commands/init.command.js';
import { importStaticKeyCertificateCommand, rotateStaticKeyCommand, staticKeyCsrCommand } from './commands/kms.commands.js';
import { caCertificateCommand, createServiceCommand, createUserCommand, disablePrincipalCommand, issueTokenCommand } from './commands/principal.commands.js';
import { createScimTokenCommand, listScimTokensCommand, revokeScimTokenCommand } from './commands/scim.commands.js';
import { statusCommand } from './commands/status.command.js';
import { retireMasterCommand, rotateMasterCommand } from './commands/vault.commands.js';
import { CommandFailure, stdout } from './output.js';

/**
 * realmctl, the operator CLI. It reads the same configuration as the appliance (REALM_* variables
 * and REALM_CONFIG_FILE). Exit codes: 0 success, 1 failure (or a tampered audit log), 2 bad
 * configuration or usage. Every failure is one line on stderr.
 */
function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command('realmctl')
  .description('operate the security realm appliance: vault, audit log, status')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text.trimEnd().split('\n')[0] + '\n') });

program.command('init').description('create the master key (generation 1), the first KEK and the audit checkpoint key; safe to run twice').action(() => initCommand(stdout));
program
  .command('status')
  .description('show the configuration (secrets masked) and the health of the database, vault and audit log')
  .option('--json', 'machine-readable output')
  .action((options: { json?: boolean }) => statusCommand(stdout, options));

const vault = program.command('vault').description('master-key lifecycle');
vault
  .command('rotate-master')
  .description('create the next master-key generation and re-wrap every KEK under it (resumable)')
  .option('--batch-size <n>', 'KEKs re-wrapped per batch', positiveInt, 100)
  .action((options: { batchSize: number }) => rotateMasterCommand(stdout, options));
vault
  .command('retire-master')
  .description('destroy an inactive master-key generation after a completed rotation')
  .argument('<generation>', 'the generation to destroy', positiveInt)
  .action((generation: number) => retireMasterCommand(stdout, generation));

const principal = program.command('principal').description('users and services');
principal
  .command('create-user')
  .description('create a user principal (SAML and SCIM provisioning come later)')
  .argument('<userName>')
  .option('--email <email>')
  .option('--role <role>', 'a role: user, realm-admin, compliance-officer, auditor, org-agent (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
  .action((userName: string, options: { email?: string; role?: string[] }) => createUserCommand(stdout, userName, options));
principal
  .command('create-service')
  .description('create a service principal and a P-256 key certified by the service CA (for bots and the indexer)')
  .argument('<name>')
  .requiredOption('--key-out <file>', 'where to write the private key (PKCS#8 PEM, mode 0600; must not exist)')
  .requiredOption('--cert-out <file>', 'where to write the certificate chain (PEM, leaf first; must not exist)')
  .option('--validity-days <n>', 'certificate lifetime', positiveInt, 365)
  .action((name: string, options: { keyOut: string; certOut: string; validityDays: number }) => createServiceCommand(stdout, name, options));

principal
  .command('disable')
  .description('disable a principal: its tokens and certificates are refused on the next request')
  .argument('<principalId>')
  .action((principalId: string) => disablePrincipalCommand(stdout, principalId));

program.command('ca').description('the appliance CA').command('certificate').description('print the CA certificate (PEM) that development clients trust').action(() => caCertificateCommand(stdout));

program
  .command('token')
  .description('access tokens')
  .command('issue')
  .description('print a KMS access token for a principal (development only)')
  .argument('<principalId>')
  .requiredOption('--client-id <id>', 'the OAuth client the token is for')
  .option('--lifetime <seconds>', 'token lifetime', positiveInt)
  .action((principalId: string, options: { clientId: string; lifetime?: number }) => issueTokenCommand(stdout, principalId, options));

const kms = program.command('kms').description('the KMS static identity');
kms.command('rotate-static-key').description('create a new static key; open channels are reset (499)').action(() => rotateStaticKeyCommand(stdout));
kms
  .command('csr')
  .description('write a certificate signing request for the static key (signed inside the HSM) for the enterprise CA')
  .requiredOption('--out <file>', 'where to write the PEM request (must not exist)')
  .action((options: { out: string }) => staticKeyCsrCommand(stdout, options));
kms
  .command('import-certificate')
  .description("import the CA's answer: a PEM chain, leaf first, for the static key")
  .argument('<file>')
  .action((file: string) => importStaticKeyCertificateCommand(stdout, file));

const client = program.command('client').description('first-party OAuth clients (no consent page)');
client
  .command('create')
  .description('register a client; a confidential one gets a secret, printed once')
  .requiredOption('--name <name>', 'a unique name')
  .option('--redirect-uri <uri>', 'an exact redirect URI (repeatable; https, http://127.0.0.1 or a private-use scheme)', (value: string, previous: string[] = []) => [...previous, value])
  .requiredOption('--grant <grant>', `a grant: ${CLIENT_GRANT_NAMES.join(', ')} (repeatable)`, (value: string, previous: string[] = []) => [...previous, value])
  .option('--public', 'a public native or browser client: no secret, PKCE only')
  .action((options: { name: string; redirectUri?: string[]; grant: string[]; public?: boolean }) => createClientCommand(stdout, options));
client
  .command('list')
  .description('list the registered clients')
  .option('--json', 'machine-readable output')
  .action((options: { json?: boolean }) => listClientsCommand(stdout, options));
client
  .command('delete')
  .description('delete a client: its refresh tokens are refused at once')
  .argument('<clientId>')
  .action((clientId: string) => deleteClientCommand(stdout, clientId));

const scimToken = program.command('scim').description('SCIM 2.0 provisioning at /scim/v2').command('token').description("bearer tokens of the IdP's SCIM client");
scimToken
  .command('create')
  .description('make a token and print it once (only its SHA-256 is kept)')
  .option('--name <name>', 'what the token is for, e.g. the IdP', 'scim')
  .action((options: { name: string }) => createScimTokenCommand(stdout, options));
scimToken
  .command('list')
  .description('list the tokens (ids, names, states; never the tokens)')
  .option('--json', 'machine-readable output')
  .action((options: { json?: boolean }) => listScimTokensCommand(stdout, options));
scimToken
  .command('revoke')
  .description('revoke a token: SCIM requests with it are refused from the next one')
  .argument('<id>', 'the token id (see list)')
  .action((id: string) => revokeScimTokenCommand(stdout, id));

const audit = program.command('audit').description('the tamper-evident audit log');
audit
  .command('verify')
  .description('walk the hash chain and signed checkpoints; exit 1 and name the first tampered record by position')
  .option('--json', 'machine-readable report')
  .action((options: { json?: boolean }) => auditVerifyCommand(stdout, options));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander as one line.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof CommandFailure) {
    process.stderr.write(`realmctl: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`realmctl: ${describeError(error)}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  }
}
