export { postgresTestUrl, testDatabases, type TestDatabase } from './databases.js';
export { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from './softhsm.js';
export { makeTempDir, portableSql, repoRoot, testConfig } from './support.js';
export { APPLIANCE_MAIN, httpsGet, httpsRequest, onLines, realmctl, REALMCTL_MAIN, runNode, startAppliance, type CommandResult, type HttpsResponse, type RunningAppliance } from './processes.js';
