import { AuditInit1763800001000 } from './1763800001000-audit-init.js';

export const AUDIT_MIGRATIONS = [AuditInit1763800001000];
