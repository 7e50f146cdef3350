export { postgresTestUrl, testDatabases, type TestDatabase } from './databases.js';
export { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from './softhsm.js';
export { makeTempDir, portableSql, repoRoot, testConfig } from './support.js';
export { APPLIANCE_MAIN, httpsGet, httpsRequest, onLines, realmctl, REALMCTL_MAIN, runNode, startAppliance, type CommandResult, type HttpsResponse, type RunningAppliance } from './processes.js';
export { escapeXml, TestSamlIdp, type IssuedResponse, type ParsedAuthnRequest, type ResponseOptions, type SignOptions, type TestIdpUser } from './saml-idp.js';
export { makeTestKeyPair, type TestKeyPair } from './saml-idp-cert.js';
export { type BrowserContext, type BrowserResponse, DEBIAN_CHROMIUM, launchTestBrowser, type Page, spkiSha256Base64, type TestBrowser } from './browser.js';
