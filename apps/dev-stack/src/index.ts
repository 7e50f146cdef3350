export { DEMO_USERS, type DemoUser, type DevIdp, type DevIdpOptions, startDevIdp } from './dev-idp.js';
export { clientOptions, CORE_SIM_MAIN, DEMO_CLIENT_NAME, DEMO_REDIRECT_URI, DEV_IDP_MAIN, type DevStack, type DevStackDescription, type DevStackOptions, runningStack, signInDemoUser, startDevStack } from './stack.js';
