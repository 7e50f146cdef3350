export { postgresTestUrl, testDatabases, type TestDatabase } from './databases.js';
export { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from './softhsm.js';
export { makeTempDir, portableSql, repoRoot, testConfig } from './support.js';
