/**
 * The part of oidc-provider 9 (which ships no TypeScript types) that the authorization server uses.
 * Kept internal to libs/identity: nothing public in the lib's API names these types.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcContext {
    readonly route?: string;
    readonly params?: Record<string, unknown>;
    readonly client?: { readonly clientId: string; grantTypeAllowed(grant: string): boolean };
    readonly session?: { readonly accountId?: string; grantIdFor(clientId: string): string | undefined };
    readonly entities: Record<string, { readonly accountId?: string; readonly grantId?: string; readonly jti?: string } | undefined>;
    readonly grant?: unknown;
    readonly result?: Record<string, unknown>;
    readonly requestParamScopes: Set<string>;
  }

  export interface KoaContext {
    readonly req: IncomingMessage;
    readonly res: ServerResponse;
    readonly path: string;
    readonly method: string;
    status: number;
    body: unknown;
    type: string;
    readonly state: Record<string | symbol, unknown>;
    readonly oidc: OidcContext;
    set(name: string, value: string): void;
    get(name: string): string;
    readonly response: { get(name: string): string };
  }

  export type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

  export interface GrantInstance {
    readonly jti: string;
    readonly accountId?: string;
    readonly clientId?: string;
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }

  export interface InteractionDetails {
    readonly uid: string;
    readonly prompt: { readonly name: string; readonly reasons: readonly string[] };
    readonly params: Record<string, unknown>;
    readonly session?: { readonly accountId?: string };
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    readonly issuer: string;
    static readonly ctx: KoaContext | undefined;
    readonly Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
    readonly Client: { prototype: { compareClientSecret(this: { clientSecret?: string }, presented: string): Promise<boolean> | boolean } };
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    use(middleware: Middleware): void;
    on(event: string, listener: (...args: never[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  }

  class ProviderError extends Error {
    constructor(description?: string);
    readonly error: string;
    readonly error_description?: string;
    readonly status: number;
  }

  export const errors: {
    readonly OIDCProviderError: typeof ProviderError;
    readonly InvalidGrant: typeof ProviderError;
    readonly SessionNotFound: typeof ProviderError;
  };

  interface CheckInstance {
    readonly reason: string;
  }
  interface PromptInstance {
    readonly name: string;
    readonly checks: Set<CheckInstance> & { add(check: CheckInstance): void };
  }
  type Policy = PromptInstance[] & { get(name: string): PromptInstance | undefined; remove(name: string): void; add(prompt: PromptInstance, index?: number): void };

  export const interactionPolicy: {
    base(): Policy;
    Prompt: new (options: { name: string; requestable: boolean }, ...checks: CheckInstance[]) => PromptInstance;
    Check: {
      new (reason: string, description: string, error: string, check: (ctx: KoaContext) => boolean | Promise<boolean>): CheckInstance;
      new (reason: string, description: string, check: (ctx: KoaContext) => boolean | Promise<boolean>): CheckInstance;
      readonly REQUEST_PROMPT: true;
      readonly NO_NEED_TO_PROMPT: false;
    };
  };

  export default Provider;
}
