export { type CoreActivity, CoreApi, type CoreEvent, type CoreOptions, type CoreRoom } from './core-api.js';
export { HeadlessBrowser, type HeadlessBrowserOptions } from './headless-browser.js';
export { type AuthorizationServerOptions, type Authorize, OAuthSession } from './oauth-session.js';
export { type KmsRouteOptions, type Message, type MessageListener, RealmClient, type RealmClientOptions, type Room, type UnreadableMessage } from './realm-client.js';
export { RealmClientError, type RealmClientErrorCode } from './realm-client.error.js';
