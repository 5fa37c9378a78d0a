import type { RequestListener } from 'node:http';
import express, { type RequestHandler, type Router } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { issuerPath } from '../oidc/configuration.js';
import type { ProviderBundle } from '../oidc/provider.js';
import type { ProtocolPages } from '../pages/index.js';
import type { Store } from '../store/types.js';
import { errorHandler, notFound } from './error-handler.js';
import { healthRouter } from './health.js';
import { providerHolder } from './provider-mount.js';
import { createDispatcher, clientAddressOf, type BeforeEngineStep } from './dispatch.js';
import { createRateLimits, type RateLimitCheck, type RateLimitMetrics } from './rate-limit.js';
import { securityHeaders } from './security-headers.js';
import { watchStoreHealth } from './store-health.js';

export interface AppDeps {
  config: Config;
  provider: ProviderBundle;
  store: Store;
  /** Login, consent and upstream routes; mounted at the issuer's path, before the provider. */
  interactionsRouter?: Router;
  /** Other routers (e.g. the demo sandbox), each at its own absolute path, mounted before the interactions. */
  extraRoutes?: { path: string; router: RequestHandler }[];
  log: Logger;
  /** With a registry: the store health gauge (served by the metrics listener, `metricsHandler` in metrics.ts). */
  metricsRegistry?: Registry;
  /** Error pages for requests that fail outside oidc-provider (defaults: plain pages). */
  pages?: ProtocolPages;
  /** Counts rate-limit refusals and uncounted requests (src/server/metrics.ts). */
  metrics?: RateLimitMetrics;
  /**
   * Steps run on the plain node request before it reaches the engine or express (rate limits):
   * see `BeforeEngineStep` in src/server/dispatch.ts. Default none.
   */
  beforeEngine?: readonly BeforeEngineStep[];
}

export interface App {
  /** The issuer's request listener (src/server/dispatch.ts): the engine's routes to the engine, the rest to express. */
  handler: RequestListener;
  /** /readyz answers 503 from now on, so load balancers drain this replica. */
  setShuttingDown(): void;
  /** Routes new requests to another provider instance (e.g. rebuilt with new signing keys). */
  swapProvider(bundle: ProviderBundle): void;
  /**
   * The rate limits the app runs before its routes (src/server/rate-limit.ts), for a dispatcher that
   * reaches oidc-provider without express: call it first; when it resolves true it has answered.
   */
  rateLimits: RateLimitCheck;
}

/** express `trust proxy` from config: hop count, CIDR list, or nothing (a client cannot spoof its address). */
function trustProxyValue(trust: Config['trustProxy']): number | string[] | false {
  if (!trust) return false;
  return 'hops' in trust ? trust.hops : trust.cidrs;
}

/**
 * The whole HTTP surface. Everything lives under the issuer's path (`https://host/sso` → `/sso/…`),
 * health probes also at the root. The dispatcher sets request ids and security headers and sends
 * oidc-provider's own routes straight to it; express serves the rest, with oidc-provider mounted last.
 */
export function createApp(deps: AppDeps): App {
  const { config, log } = deps;
  const prefix = issuerPath(config.issuer);
  const app = express();
  let shuttingDown = false;
  const holder = providerHolder(deps.provider, config.issuer);

  app.disable('x-powered-by');
  app.set('trust proxy', trustProxyValue(config.trustProxy));

  const health = healthRouter(() => shuttingDown);
  app.use(health);
  if (prefix) app.use(prefix, health);

  // No /metrics here: it names clients and the version to anyone who can reach the issuer. It has
  // its own listener (`metrics.listen`, src/cli/serve.ts).
  watchStoreHealth(deps.store, log, deps.metricsRegistry);

  // The first step before every route (the interactions' upstream callbacks, oidc-provider's endpoints).
  const rateLimits = createRateLimits({
    config,
    store: deps.store,
    log,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.pages ? { pages: deps.pages } : {}),
    clientAddress: clientAddressOf,
  });

  for (const { path, router } of deps.extraRoutes ?? []) app.use(path, router);
  if (deps.interactionsRouter) app.use(prefix || '/', deps.interactionsRouter);
  app.use(prefix || '/', holder.handle);

  const pageDeps = { pages: deps.pages, defaultLocale: config.ui.defaultLocale };
  app.use(notFound(pageDeps));
  app.use(errorHandler({ log, ...pageDeps }));

  const handler = createDispatcher({
    prefix,
    express: app,
    trust: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
    headers: securityHeaders({ https: new URL(config.issuer).protocol === 'https:' }),
    engine: holder.forward,
    reserved: (deps.extraRoutes ?? []).map((r) => r.path),
    beforeEngine: [rateLimits, ...(deps.beforeEngine ?? [])],
    log,
  });

  return {
    handler,
    setShuttingDown: () => {
      shuttingDown = true;
    },
    swapProvider: (bundle) => holder.swap(bundle),
    rateLimits,
  };
}
