export { AuditLog, type AuditLogOptions } from './audit-log.js';
export { chainHash, encodeRecordBody, GENESIS_HASH, type AuditActorType, type AuditDetailValue, type AuditEvent, type AuditOutcome } from './audit-record.js';
export { AUDIT_ENTITIES } from './audit.entities.js';
export { AuditError, type AuditErrorCode } from './audit.error.js';
export { AuditModule } from './audit.module.js';
export { checkpointKeyUri } from './checkpoint-signer.js';
export { AUDIT_MIGRATIONS } from './migrations/index.js';
export { REDACTED, redactEvent } from './redaction.js';
export { AuditVerifier, type AuditProblem, type AuditProblemKind, type AuditVerification } from './verification/audit-verifier.js';
