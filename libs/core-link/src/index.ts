export { CoreLinkError, type CoreLinkErrorCode } from './core-link.error.js';
export { CoreLinkModule, linkNodeId, openCoreLink, readCoreCaFile, type CoreLinkDeps } from './core-link.module.js';
export { CORE_LINK_ENTITIES, type LinkIdentityRow } from './identity/link-identity.entities.js';
export { LINK_SERVICE_NAME, LinkIdentity, linkKeyUri, type LinkCredentials, type LinkIdentityOptions } from './identity/link-identity.js';
export { fullJitterDelay } from './link/backoff.js';
export {
  CoreLink,
  type CoreLinkDependencies,
  type CoreLinkKms,
  type CoreLinkLog,
  type CoreLinkObserver,
  type CoreLinkOptions,
  type CoreLinkState,
  type CoreLinkStatus,
  verifyCoreHostName,
} from './link/core-link.js';
export { LINK_SUBPROTOCOL, parseCoreFrame, FrameViolation, type ApplianceFrame, type CoreFrame } from './link/link-frames.js';
export { CORE_LINK_MIGRATIONS } from './migrations/index.js';
