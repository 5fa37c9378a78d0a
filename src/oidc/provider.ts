import type { EventEmitter } from 'node:events';
import Provider, { type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Account, ClaimPolicy } from '../accounts/types.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/types.js';
import { compareHashedClientSecrets } from './client-secret-compare.js';
import { clientExtrasMap } from './clients.js';
import { buildConfiguration, isHttps, laxCookiesOverHttp } from './configuration.js';
import { createFindAccount, type Recheck } from './find-account.js';
import { createInteractionApi, type InteractionApi } from './interactions-api.js';
import type { NeedsRecheck } from './login-policy.js';
import { plainPages, type ProtocolPages } from '../pages/index.js';
import { deviceFlowMiddleware, deviceFlowPages, deviceFlowWanted } from './device.js';
import { pageWriter, providerPages } from './pages.js';
import { createRefreshGrace } from './refresh-grace.js';
import { assertClientAlgsSignable } from './signing-algs.js';
import { passUnmatched } from './unmatched.js';

export interface ProviderDeps {
  config: Config;
  store: Store;
  /** Private JWKs, the signer of each alg first (src/oidc/keys.ts `loadKeys().jwks`). */
  jwks: { keys: JWK[] };
  accounts: { get(sub: string): Promise<Account | undefined> };
  claimsFor: (account: Account, policy: ClaimPolicy) => Record<string, unknown>;
  /** Asked on every winning refresh. Default: always 'ok'. */
  recheck?: Recheck;
  /** Asked when a browser session is reused. Default: never due. */
  needsRecheck?: NeedsRecheck;
  /** Epoch seconds, for the session's absolute lifetime (tests move it). Default: the system clock. */
  now?: () => number;
  /** What the engine's own calls (a client's jwks_uri, back-channel logout) go out through. Default: the global fetch. */
  fetch?: typeof fetch;
  pages?: ProtocolPages;
  /**
   * form-action sources of the upstreams' login pages: the device flow's confirmation posts to
   * /device, whose redirects lead there (src/oidc/device.ts). Default none.
   */
  upstreamFormActions?: readonly string[];
  log: Logger;
  /** Counts token endpoint requests (src/server/metrics.ts); default: counts nothing. */
  metrics?: TokenMetrics;
}

export interface TokenMetrics {
  /**
   * One token endpoint request: `outcome` is 'success' or the OAuth error code. Raw values
   * (the client id may be an unauthenticated request parameter): the implementation bounds them.
   */
  tokenRequest(clientId: string | undefined, grantType: string | undefined, outcome: string): void;
}

export interface ProviderBundle {
  /** The oidc-provider instance (a Koa app): for src/server only. */
  provider: Provider;
  interactions: InteractionApi;
  /** Ends every grant (with its tokens) and browser session of an account. */
  revokeAccount(sub: string): Promise<{ grants: number; sessions: number }>;
}

/** Protocol events as log lines: never tokens, codes or cookies, only codes of errors and ids. */
function logEvents(provider: Provider, log: Logger): void {
  // Typed loosely: the event map of @types/oidc-provider lacks Koa's own 'error'.
  const events = provider as unknown as EventEmitter;
  events.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    log.error({ err, path: ctx.path, method: ctx.method }, 'oidc-provider server_error');
  });
  for (const event of [
    'grant.error',
    'authorization.error',
    'introspection.error',
    'revocation.error',
    'userinfo.error',
    'end_session.error',
  ]) {
    events.on(event, (ctx: KoaContextWithOIDC, err: { error?: string; error_description?: string; error_detail?: string }) => {
      log.debug(
        { event, error: err.error, description: err.error_description, detail: err.error_detail, path: ctx.path },
        'protocol error',
      );
    });
  }
  events.on('backchannel.error', (_ctx: unknown, err: Error, client: { clientId: string }) => {
    log.warn({ err: { message: err.message }, clientId: client.clientId }, 'back-channel logout delivery failed');
  });
  // Koa's own error event: an error that escaped every handler (its default handler prints stacks to stderr).
  events.on('error', (err: Error & { expose?: boolean }) => {
    if (err.expose) log.debug({ message: err.message }, 'request refused by oidc-provider');
    else log.error({ err }, 'unhandled error in oidc-provider');
  });
}

type TokenCtx = { oidc?: { route?: string; client?: { clientId: string }; params?: Record<string, unknown> } };

/**
 * grant.success / grant.error as token request counts. See
 * https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/token.js and
 * https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/shared/error_handler.js.
 */
function countTokenRequests(provider: Provider, metrics: TokenMetrics): void {
  const events = provider as unknown as EventEmitter;
  const count = (ctx: TokenCtx, outcome: string) => {
    const params = ctx.oidc?.params;
    const clientId = ctx.oidc?.client?.clientId ?? (typeof params?.client_id === 'string' ? params.client_id : undefined);
    metrics.tokenRequest(clientId, typeof params?.grant_type === 'string' ? params.grant_type : undefined, outcome);
  };
  events.on('grant.success', (ctx: TokenCtx) => count(ctx, 'success'));
  events.on('grant.error', (ctx: TokenCtx, err: { name?: string; error?: string }) => {
    // A concurrent redemption answered with the winner's reply (refresh-grace.ts): the winner's
    // request is the one counted, or every retried refresh would look like an invalid_grant.
    if (err.name === 'AdoptedReply') return;
    count(ctx, err.error ?? 'server_error');
  });
  // Unexposed errors are emitted as server_error instead of grant.error.
  events.on('server_error', (ctx: TokenCtx) => {
    if (ctx.oidc?.route === 'token') count(ctx, 'server_error');
  });
}

/** oidc-provider configured from our config (docs/architecture.md, "Modules" and "Decisions"). */
export function createProvider(deps: ProviderDeps): ProviderBundle {
  const { config, store, log } = deps;
  assertClientAlgsSignable(config, deps.jwks);
  const extras = clientExtrasMap(config);
  const extrasOf = (clientId: string) => extras.get(clientId);
  const grace = createRefreshGrace(
    store.ephemeral,
    (clientId) => (clientId === undefined ? undefined : extrasOf(clientId)?.refreshGraceSeconds) ?? config.refreshGraceSeconds,
  );
  const findAccount = createFindAccount({
    store,
    accounts: deps.accounts,
    claimsFor: deps.claimsFor,
    recheck: deps.recheck ?? (async () => 'ok'),
    extrasOf,
    grace,
    log,
  });
  const writer = pageWriter(deps.pages ?? plainPages, config.ui.defaultLocale, log);
  const devicePages = deviceFlowPages(writer, () => deps.upstreamFormActions ?? []);
  const configuration = buildConfiguration({
    config,
    store,
    jwks: deps.jwks,
    findAccount,
    needsRecheck: deps.needsRecheck ?? (async () => false),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    extrasOf,
    pages: providerPages(writer),
    devicePages: devicePages.sources,
  });
  const provider = new Provider(config.issuer, configuration);
  compareHashedClientSecrets(provider);
  provider.use(passUnmatched);
  provider.use(grace.middleware);
  if (!isHttps(config.issuer)) provider.use(laxCookiesOverHttp);
  if (deviceFlowWanted(config))
    provider.use(deviceFlowMiddleware({ records: store.ephemeral, interval: config.deviceFlow.interval, pages: devicePages }));
  logEvents(provider, log);
  if (deps.metrics) countTokenRequests(provider, deps.metrics);
  return {
    provider,
    interactions: createInteractionApi(provider, extrasOf),
    revokeAccount: (sub) => store.revokeAccount(sub),
  };
}
