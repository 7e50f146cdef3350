import { ScimTokenService } from '@realm/identity';
import { operatorActor, withOperatorSession } from '../operator-context.js';
import type { Output } from '../output.js';

/**
 * `realmctl scim token create [--name N]`: a bearer token for the IdP's SCIM provisioning client.
 * The token is printed once, on the last line; the appliance keeps only its SHA-256.
 */
export async function createScimTokenCommand(out: Output, options: { name: string }): Promise<void> {
  await withOperatorSession(async (session) => {
    const created = await new ScimTokenService(session.db, await session.audit()).create(options.name, { actor: operatorActor() });
    out.line(`created SCIM token ${created.id} (${created.name}); give it to the IdP's provisioning client now, it is not shown again:`);
    out.line(created.token);
  });
}

/** `realmctl scim token list [--json]`: ids, names and states; never a token. */
export async function listScimTokensCommand(out: Output, options: { json?: boolean }): Promise<void> {
  await withOperatorSession(async (session) => {
    const tokens = await new ScimTokenService(session.db, await session.audit()).list();
    if (options.json) {
      out.json(tokens.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString(), revokedAt: t.revokedAt?.toISOString() ?? null })));
      return;
    }
    if (tokens.length === 0) out.line('no SCIM tokens');
    for (const t of tokens) out.line(`${t.id}  ${t.name}  created ${t.createdAt.toISOString()}  ${t.revokedAt === null ? 'active' : `revoked ${t.revokedAt.toISOString()}`}`);
  });
}

/** `realmctl scim token revoke ID`: the next SCIM request with that token is refused. */
export async function revokeScimTokenCommand(out: Output, id: string): Promise<void> {
  await withOperatorSession(async (session) => {
    const revoked = await new ScimTokenService(session.db, await session.audit()).revoke(id, { actor: operatorActor() });
    out.line(`revoked SCIM token ${revoked.id} (${revoked.name}): SCIM requests with it are refused from now on`);
  });
}
