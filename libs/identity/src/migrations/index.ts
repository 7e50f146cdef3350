import { IdentityInit1763800002000 } from './1763800002000-identity-init.js';

export const IDENTITY_MIGRATIONS = [IdentityInit1763800002000];
