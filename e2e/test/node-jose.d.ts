/**
 * The slice of node-jose 2.x (CommonJS, no bundled types) the JOSE interop tests use. node-jose is
 * what node-kms speaks through, so it is the reference client here. Test-only: nothing in src/
 * imports it.
 */
declare module 'node-jose' {
  interface NodeJoseKey {
    readonly kid: string;
    readonly kty: string;
    toJSON(isPrivate?: boolean): Record<string, unknown>;
    /** Binary members as Buffers; the form node-jose's JWA functions take. */
    toObject(isPrivate?: boolean): Record<string, unknown>;
  }

  interface NodeJoseKeyStore {
    add(key: object | string, form?: string): Promise<NodeJoseKey>;
  }

  interface Builder {
    update(data: Buffer): Builder;
    final(): Promise<string>;
  }

  interface NodeJose {
    JWK: {
      asKey(key: object | string, form?: string): Promise<NodeJoseKey>;
      createKey(kty: string, size: number | string, props?: Record<string, unknown>): Promise<NodeJoseKey>;
      createKeyStore(): NodeJoseKeyStore;
    };
    JWE: {
      createEncrypt(options: Record<string, unknown>, key: NodeJoseKey | { key: NodeJoseKey; reference?: boolean }): Builder;
      createDecrypt(key: NodeJoseKey | NodeJoseKeyStore): {
        decrypt(token: string): Promise<{ header: Record<string, unknown>; plaintext: Buffer; protected: string[] }>;
      };
    };
    JWS: {
      createSign(options: Record<string, unknown>, key: NodeJoseKey | { key: NodeJoseKey; reference?: boolean }): Builder;
      createVerify(
        key: NodeJoseKey | NodeJoseKeyStore,
        options?: Record<string, unknown>,
      ): { verify(token: string, options?: Record<string, unknown>): Promise<{ header: Record<string, unknown>; payload: Buffer }> };
    };
    JWA: {
      derive(alg: string, key: Record<string, unknown>, props: Record<string, unknown>): Promise<Buffer>;
    };
  }

  const jose: NodeJose;
  export default jose;
}
