import { type ClientGrant, CLIENT_GRANTS, OAuthClientService } from '@realm/identity';
import { operatorActor, withOperatorSession } from '../operator-context.js';
import type { Output } from '../output.js';

export interface CreateClientOptions {
  readonly name: string;
  readonly redirectUri?: string[];
  readonly grant: string[];
  readonly public?: boolean;
}

/**
 * `realmctl client create --name N [--redirect-uri URI]... --grant G... [--public]`: a first-party
 * OAuth client (no consent page). A confidential client's secret is printed this once; the
 * appliance keeps only its SHA-256.
 */
export async function createClientCommand(out: Output, options: CreateClientOptions): Promise<void> {
  await withOperatorSession(async ({ db, audit, config }) => {
    const clients = new OAuthClientService(db, await audit());
    const { client, clientSecret } = await clients.create(
      { name: options.name, redirectUris: options.redirectUri ?? [], grants: options.grant as ClientGrant[], public: options.public === true },
      { actor: operatorActor() },
    );
    out.line(`created ${client.public ? 'public' : 'confidential'} client ${client.name}`);
    out.line(`client_id: ${client.clientId}`);
    if (clientSecret !== undefined) out.line(`client_secret: ${clientSecret}  (shown once: store it now; the appliance keeps only its digest)`);
    out.line(`authorization server: ${config.identity.issuer}/.well-known/oauth-authorization-server`);
  });
}

/** `realmctl client list [--json]`: the registered clients, never a secret. */
export async function listClientsCommand(out: Output, options: { json?: boolean }): Promise<void> {
  await withOperatorSession(async ({ db, audit }) => {
    const clients = await new OAuthClientService(db, await audit()).list();
    if (options.json) {
      out.json(clients);
      return;
    }
    if (clients.length === 0) out.line('no OAuth clients: add one with realmctl client create');
    for (const client of clients) {
      out.line(`${client.clientId}  ${client.name}  ${client.public ? 'public' : 'confidential'}  grants=${client.grantTypes.join(',')}  redirect_uris=${client.redirectUris.join(',') || '-'}`);
    }
  });
}

/** `realmctl client delete CLIENT_ID`: its refresh tokens stop working at once. */
export async function deleteClientCommand(out: Output, clientId: string): Promise<void> {
  await withOperatorSession(async ({ db, audit }) => {
    await new OAuthClientService(db, await audit()).delete(clientId, { actor: operatorActor() });
    out.line(`deleted client ${clientId}: its refresh tokens are refused from now on`);
  });
}

export const CLIENT_GRANT_NAMES = Object.keys(CLIENT_GRANTS);
