export { HttpsKmsTransport } from './https-transport.js';
export { CoreKmsTransport, CoreRelayError, type CoreKmsTransportOptions, type CoreRelayFailure } from './core-transport.js';
export {
  jwkThumbprint,
  KmsClient,
  type KmsAuthorization,
  type KmsClientCredential,
  type KmsClientOptions,
  type KmsDiscovery,
  type KmsKey,
  type KmsResource,
  type KmsTransport,
} from './kms-client.js';
export { KmsClientError, type KmsClientErrorCode } from './kms-client.error.js';
export { validateStaticKey, type StaticKeyValidationOptions } from './static-key-validation.js';
