import { errors, type Client, type Configuration, type FindAccount, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/types.js';
import { createAdapter } from './adapter.js';
import { allowedUpstreams, clientMetadataOf, type ClientExtras } from './clients.js';
import { createInteractionPolicy, type NeedsRecheck } from './login-policy.js';
import { SUPPORTED_LOCALES } from '../pages/index.js';
import { USER_CODE, deviceFlowWanted, type deviceFlowPages } from './device.js';
import type { providerPages } from './pages.js';
import { checkParameterSizes } from './request-limits.js';
import { SCOPES, scopeClaimsConfig } from './scopes.js';

export interface ConfigurationDeps {
  config: Config;
  store: Store;
  jwks: { keys: JWK[] };
  findAccount: FindAccount;
  needsRecheck: NeedsRecheck;
  /** Epoch seconds; default the system clock. */
  now?: () => number;
  /** The engine's outgoing calls; default the global fetch. */
  fetch?: typeof fetch;
  extrasOf: (clientId: string) => ClientExtras | undefined;
  pages: ReturnType<typeof providerPages>;
  devicePages: ReturnType<typeof deviceFlowPages>['sources'];
}

/** The issuer's path without a trailing slash: '' for `https://host`, '/sso' for `https://host/sso`. */
export function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '');
}

/**
 * The browser session cookie must reach us on a cross-site POST to /auth (OIDC Core 3.1.2.1 lets
 * RPs send the authorization request as a form post): SameSite=Lax cookies are withheld on
 * cross-site POSTs, so the session would look absent and the person would sign in again. Hence
 * SameSite=None (oidc-provider also refuses `enableHttpPostMethods` without it), which browsers
 * only accept with Secure, i.e. over https. On a plain-http issuer (development) the cookies are
 * sent out as Lax instead (see laxCookiesOverHttp). The short-lived interaction cookies stay Lax:
 * they are only needed on top-level GET navigations, which Lax allows.
 */
function cookiesFor(config: Config): Configuration['cookies'] {
  const secure = isHttps(config.issuer);
  return {
    keys: config.cookieSecrets,
    // The session cookie belongs to the issuer's path: a host shared with other apps never sees it.
    long: { httpOnly: true, sameSite: 'none', secure, path: issuerPath(config.issuer) || '/' },
    short: { httpOnly: true, sameSite: 'lax', secure },
  };
}

export const isHttps = (issuer: string) => new URL(issuer).protocol === 'https:';

/**
 * provider.use middleware for plain-http issuers: browsers drop a SameSite=None cookie that is not
 * Secure, and Secure cookies cannot be set over http, so the session cookie goes out as Lax. A
 * cross-site POST to /auth then merely starts a fresh sign-in; everything else works as over https.
 */
export async function laxCookiesOverHttp(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  const value = ctx.response.get('set-cookie') as unknown;
  const cookies = Array.isArray(value) ? (value as string[]) : typeof value === 'string' && value ? [value] : [];
  if (cookies.length)
    ctx.response.set(
      'set-cookie',
      cookies.map((c) => c.replace(/;\s*samesite=none/i, '; samesite=lax')),
    );
}

/**
 * Lifetimes in seconds from `ttl.*`. A rotated refresh token gets a fresh `refreshToken` lifetime,
 * but never outlives its Grant (`grant`, saved when consent is given): the absolute limit.
 */
function ttlFor(config: Config): Configuration['ttl'] {
  const { ttl } = config;
  return {
    AccessToken: ttl.accessToken,
    ClientCredentials: ttl.accessToken,
    AuthorizationCode: ttl.authorizationCode,
    IdToken: ttl.idToken,
    RefreshToken: ttl.refreshToken,
    // Renewed on every use; ttl.sessionAbsolute bounds a session from its login (login-policy.ts).
    Session: ttl.session,
    Interaction: ttl.interaction,
    Grant: ttl.grant,
    DeviceCode: config.deviceFlow.codeTtl,
  };
}

/** Same as oidc-provider's default: browsers may call userinfo, and public clients the token endpoint, from their redirect origins. */
function clientBasedCORS(ctx: KoaContextWithOIDC, origin: string, client: Client) {
  if (origin === 'null') return false;
  if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
  return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
}

/**
 * oidc-provider refuses outgoing requests to loopback and private addresses (SSRF protection
 * meant for dynamically registered clients). Every URL it fetches here (back-channel logout,
 * a client's jwks_uri) comes from the operator's static client config, and in-cluster RPs such as
 * KubeSphere live on private addresses: drop that dispatcher, keep the provider's timeout signal.
 * The call then goes out through `outgoing` (the bridge gives the egress-proxy-aware one), with
 * fetch's own default of following redirects (a jwks_uri GET names none).
 */
function operatorTrustedFetch(outgoing: typeof fetch): typeof fetch {
  return (url, options) => {
    const { dispatcher: _ssrfGuard, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown };
    // fetch's default, said out loud: the egress wrapper follows a redirect only when asked to.
    return outgoing(url, { ...rest, redirect: rest.redirect ?? 'follow' });
  };
}

function features(deps: ConfigurationDeps): Configuration['features'] {
  const { extrasOf, pages } = deps;
  return {
    devInteractions: { enabled: false },
    // Only when a client is configured for it, so discovery advertises what is really offered.
    clientCredentials: { enabled: deps.config.clients.some((c) => c.grant_types?.includes('client_credentials')) },
    claimsParameter: { enabled: true },
    userinfo: { enabled: true },
    // Signed userinfo / introspection answers for clients that register `*_signed_response_alg`.
    jwtUserinfo: { enabled: true },
    jwtIntrospection: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource: pages.logoutSource, postLogoutSuccessSource: pages.postLogoutSuccessSource },
    backchannelLogout: { enabled: true },
    revocation: {
      enabled: true,
      // RFC 7009 2.1: a client revokes only tokens issued to it.
      async allowedPolicy(_ctx, client, token) {
        if (token.clientId === client.clientId) return true;
        if (client.clientAuthMethod === 'none') return false;
        throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
      },
    },
    introspection: {
      enabled: true,
      // RFC 7662 2.1: only its own tokens, unless the operator marked it a resource server.
      async allowedPolicy(_ctx, client, token) {
        return token.clientId === client.clientId || extrasOf(client.clientId)?.resourceServer === true;
      },
    },
    // RFC 8628 for kubectl on hosts without a browser (src/oidc/device.ts): on when a client lists
    // the grant; oidc-provider lets only those clients use /device/auth (unauthorized_client).
    deviceFlow: { enabled: deviceFlowWanted(deps.config), ...USER_CODE, ...deps.devicePages },
    // Off: no RP we serve uses them, and each is more to secure. Turning one on is a config change here.
    resourceIndicators: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    dPoP: { enabled: false },
  };
}

/** Everything oidc-provider is configured with, from our config and the injected pieces. */
export function buildConfiguration(deps: ConfigurationDeps): Configuration {
  const { config, extrasOf } = deps;
  const mountPath = issuerPath(config.issuer);
  return {
    adapter: createAdapter(deps.store),
    jwks: deps.jwks,
    clients: config.clients.map(clientMetadataOf),
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // KubeSphere 3.x and kube-apiserver accept only RS256 out of the box.
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    responseTypes: ['code'],
    // OIDC Core 3.1.2.1: redirect_uri is REQUIRED, also for a client with one registered URI.
    allowOmittingSingleRegisteredRedirectUri: false,
    // OIDC Core requires POST at the authorization endpoint; v9 has it off by default.
    enableHttpPostMethods: true,
    // Public clients must send PKCE (S256, the only method offered); confidential ones when their
    // operator set `requirePkce`, else they may (KubeSphere sends none).
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' || extrasOf(client.clientId)?.requirePkce === true },
    // kube-apiserver reads only the ID token: requested claims go there as well as to userinfo.
    conformIdTokenClaims: false,
    claims: scopeClaimsConfig(),
    scopes: SCOPES,
    extraParams: {
      // `upstream=<id>` skips the chooser; an id the client may not use is an error, never a silent fallback.
      // The size caps of the whole request run here too: oidc-provider calls this validator on every
      // authorization request, after the parameters are assembled and before the Interaction is saved.
      upstream(ctx, value, client) {
        checkParameterSizes(ctx.oidc.params ?? {}, config.requestLimits);
        if (value === undefined) return;
        if (!allowedUpstreams(config, extrasOf(client.clientId)).includes(value)) {
          throw new errors.InvalidRequest('upstream is unknown or not allowed for this client');
        }
      },
    },
    // Clients with the refresh_token grant get refresh tokens whether or not offline_access survived
    // (oidc-provider drops it unless prompt=consent: docs/architecture.md, "Decisions", and
    // https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/authorization/scopes.js); without it they end with the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Every redemption rotates: one winner per token (refresh-grace.ts), and oidc-provider revokes
    // the whole grant when a rotated token comes back after the grace window.
    rotateRefreshToken: true,
    findAccount: deps.findAccount,
    interactions: {
      policy: createInteractionPolicy(deps.needsRecheck, (clientId) => allowedUpstreams(config, extrasOf(clientId)), {
        absoluteSeconds: config.ttl.sessionAbsolute,
        now: deps.now ?? (() => Date.now() / 1000),
      }),
      // The default (`/interaction/<uid>`) ignores the issuer's path.
      url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}`,
    },
    cookies: cookiesFor(config),
    ttl: ttlFor(config),
    features: features(deps),
    renderError: deps.pages.renderError,
    clientBasedCORS,
    fetch: operatorTrustedFetch(deps.fetch ?? ((url, options) => globalThis.fetch(url, options))),
    discovery: { ui_locales_supported: [...SUPPORTED_LOCALES] },
  };
}
