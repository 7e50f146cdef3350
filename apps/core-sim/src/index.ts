export { startCoreSim, type CoreSim, type CoreSimOptions } from './server.js';
export { configFromEnv, ConfigError, SETTINGS } from './config.js';
export { LINK_SUBPROTOCOL, CloseCode } from './kms-relay.js';
export type { FrameRecord } from './recorder.js';
export type { Faults } from './hostile.js';
export { allSchemas, schemaId } from './contract/schemas.js';
export { validate, type Violation } from './contract/validate.js';
export { issueCertificate, selfSignedServerCertificate, type CertificateSpec } from './tls/x509-cert.js';
