/**
 * The OP under certification-style test: `startBridge({ upstream: 'oidc-issuer' })` of
 * test/helpers/bridge.ts, the whole bridge as production wires it in front of the OIDC double
 * (test/doubles/fake-oidc-issuer.ts), which auto-approves, so every module drives the real front
 * channel: /auth → interaction → upstream → callback → the client's redirect URI. Two upstream ids
 * point at the same double: clients restricted to `corp` go straight to it, clients offered both
 * see the chooser page.
 */
import { startBridge, type ClientInput, type ConfigInput, type OidcIssuerBridge } from '../helpers/bridge.js';

export { UPSTREAM_USER } from '../helpers/bridge.js';
export { freshKeysDir } from '../helpers/keys.js';

export const RP = 'https://rp.example.test';
export const REDIRECT = `${RP}/cb`;
export const POST_LOGOUT = `${RP}/logged-out`;
/** A post-logout URI registered with its query, exactly (RP-Initiated Logout 1.0 §3: the query is kept). */
export const POST_LOGOUT_WITH_QUERY = `${RP}/logged-out?from=op`;
export const secretOf = (clientId: string) => `${clientId}-secret-0123456789abcdef0123456789`;

/** A confidential web client (client_secret_basic unless `extra` says otherwise) that offers only `corp`. */
export function webClient(clientId: string, extra: Partial<ClientInput> = {}): ClientInput {
  return {
    client_id: clientId,
    client_secret: secretOf(clientId),
    client_name: `Conformance ${clientId}`,
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [POST_LOGOUT, POST_LOGOUT_WITH_QUERY],
    grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true,
    upstreams: ['corp'],
    emitEmail: 'any',
    ...extra,
  };
}

/** The bridge (`bridge`, replaced by `restart`), its upstream double, and its log lines. */
export type Op = OidcIssuerBridge;

export interface OpOptions {
  clients: ClientInput[];
  /** Default: the process's shared keys; a test that rotates keys brings its own (freshKeysDir). */
  keysDir?: string;
  /** Top-level config keys merged over the defaults (ttl, ui …). */
  config?: Partial<ConfigInput>;
}

export function startOp(options: OpOptions): Promise<Op> {
  return startBridge({
    upstream: 'oidc-issuer',
    store: 'memory',
    clients: options.clients,
    ...(options.keysDir ? { keysDir: options.keysDir } : {}),
    ...(options.config ? { configPatch: options.config } : {}),
  });
}
