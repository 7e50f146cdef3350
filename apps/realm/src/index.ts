export { AppModule } from './app.module.js';
export { realmHttpErrorStatus } from './http-error-status.js';
export { workerExecArgv } from './supervisor.js';
export { openDatabaseAndVault, openIdentityAndKms, openRealmDatabase, openRealmRuntime, REALM_ENTITIES, REALM_MIGRATIONS, type OpenRuntimeOptions, type RealmRuntime, type RuntimeLog } from './realm-runtime.js';
