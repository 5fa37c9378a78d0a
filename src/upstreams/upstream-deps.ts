/** What every upstream factory (`openOAuth2`, `openOidc`, `openDingTalk`) is given. */
import type { SealedRecords } from '../store/sealed-records.js';
import type { Store } from '../store/types.js';

export interface UpstreamLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface UpstreamDeps {
  log: UpstreamLogger;
  /** Defaults to the node:http client (src/upstreams/http-fetch.ts); tests may inject a fetch. */
  fetch?: typeof fetch;
  /** For upstreams that cache (DingTalk app tokens); oauth2 and oidc do not use it. */
  store?: Store;
  /** Ephemeral records encrypted with `store.encryptionKeys`, for cached upstream credentials (the DingTalk app token). */
  secrets?: SealedRecords;
}
