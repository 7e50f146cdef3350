import { IdentityInit1763800002000 } from './1763800002000-identity-init.js';
import { IdentitySamlSessions1763800005000 } from './1763800005000-identity-saml-sessions.js';
import { IdentityOAuth1763800006000 } from './1763800006000-identity-oauth.js';
import { IdentityScim1763800007000 } from './1763800007000-identity-scim.js';

export const IDENTITY_MIGRATIONS = [IdentityInit1763800002000, IdentitySamlSessions1763800005000, IdentityOAuth1763800006000, IdentityScim1763800007000];
