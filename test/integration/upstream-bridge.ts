/**
 * Moved to test/helpers: the bridge is `startBridge({ upstream: 'doubles' })` of
 * test/helpers/bridge.ts, the doubles and the relying party's side are in
 * test/helpers/upstream-login.ts, page texts in test/helpers/pages.ts. Only re-exports remain, for
 * test/integration/oidc-upstream-faults.test.ts; delete this file once that test imports from
 * test/helpers.
 */
import { startBridge, type WiredBridge } from '../helpers/bridge.js';
import type { StoreKind } from '../helpers/upstream-login.js';

export { COOKIE_SECRET } from '../helpers/bridge.js';
export { headingOf, message, retryHrefOf } from '../helpers/pages.js';
export * from '../helpers/upstream-login.js';

export type UpstreamBridge = WiredBridge;

export function startUpstreamBridge(options: {
  store: StoreKind;
  upstreams: unknown[];
  clients: unknown[];
  issuerPath?: string;
  config?: Record<string, unknown>;
}): Promise<UpstreamBridge> {
  const { config, ...rest } = options;
  return startBridge({ upstream: 'configured', ...rest, ...(config ? { configPatch: config } : {}) });
}
