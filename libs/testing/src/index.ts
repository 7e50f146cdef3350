export { postgresTestUrl, testDatabases, type TestDatabase } from './databases.js';
export { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from './softhsm.js';
export { makeTempDir, repoRoot, testConfig } from './support.js';
