import { CoreLinkInit1763800008000 } from './1763800008000-core-link-init.js';

export const CORE_LINK_MIGRATIONS = [CoreLinkInit1763800008000];
