import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The parts of Express's request this library reads. Declared here rather than taken from
 * `@types/express`, which the workspace does not install; Express's request extends
 * `IncomingMessage` with these fields.
 */
export interface ExpressRequest extends IncomingMessage {
  /** The URL as received, before routers strip their mount path from `url`. */
  readonly originalUrl?: string;
  /** The mount path of the router that matched, `''` at the application level. */
  readonly baseUrl?: string;
  /** The route that matched, once routing reached it. */
  readonly route?: { readonly path?: unknown };
}

/** An Express (connect-style) middleware, typed on node:http. */
export type HttpMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** The path of a request without its query string, which may carry credentials (RFC 6750 §2.3). */
export function pathOf(req: IncomingMessage): string {
  const url = (req as ExpressRequest).originalUrl ?? req.url ?? '/';
  const queryStart = url.indexOf('?');
  return queryStart === -1 ? url : url.slice(0, queryStart);
}
