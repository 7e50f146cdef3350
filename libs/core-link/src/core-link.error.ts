import { RealmError } from '@realm/errors';

export type CoreLinkErrorCode =
  /** coreLink.caFile cannot be read or holds no certificate. */
  | 'CORE_LINK_CONFIG'
  /** The link identity (client certificate) cannot be issued or loaded. */
  | 'CORE_LINK_IDENTITY';

/** A problem of the appliance's link to the core: raised at start, never sent to a client. */
export class CoreLinkError extends RealmError<CoreLinkErrorCode> {
  override readonly name = 'CoreLinkError';
}
