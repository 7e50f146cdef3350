/** The slice of Cisco's node-kms 0.4 (CommonJS, untyped) the interop tests drive. */
declare module 'node-kms' {
  interface KeyObject {
    readonly uri: string;
    readonly jwk: Record<string, unknown>;
    readonly userId: string;
    readonly clientId: string;
    readonly resourceUri: string;
    readonly bindDate?: Date;
  }
  class Context {
    clientInfo: { clientId: string; credential: { userId?: string; bearer?: string } };
    serverInfo: { key: Record<string, unknown> };
    ephemeralKey: KeyObject | Record<string, unknown> | null;
    createECDHKey(): Promise<KeyObject>;
    deriveEphemeralKey(remote: unknown): Promise<KeyObject>;
  }
  class Request {
    constructor(body?: Record<string, unknown>);
    body: Record<string, unknown>;
    requestId: string;
    wrap(context: Context, options?: { serverKey?: boolean; requestId?: string }): Promise<string>;
  }
  class Response {
    constructor(wrapped?: string);
    readonly status: number;
    readonly reason: string;
    readonly requestId: string;
    body: Record<string, unknown>;
    unwrap(context: Context): Promise<Record<string, unknown>>;
  }
  const KMS: { Context: typeof Context; Request: typeof Request; Response: typeof Response };
  export default KMS;
}
