/**
 * What every interaction handler works with: the router's dependencies plus the pieces built once
 * per router (pages, paths, CSRF, one leg store and one cached strategy per upstream).
 */
import type { Strategy } from 'passport';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/types.js';
import type { Upstream, UpstreamErrorReason } from '../upstreams/types.js';
import { createCsrf, type Csrf } from './csrf.js';
import { createLegStore, type UpstreamLegs } from './leg-store.js';
import { clientFormActions } from './page-headers.js';
import { createPages, type Pages } from './pages.js';
import { createPaths, type Paths } from './paths.js';
import type { AccountsPort, InteractionPort, UpstreamsPort } from './ports.js';

/** How an upstream sign-in ended: the UpstreamError reason, or a callback whose leg (state or interaction) is gone. */
export type LoginOutcome = 'success' | UpstreamErrorReason | 'invalid_state';

/** Counters for the operator (src/server/metrics.ts implements them). */
export interface LoginMetrics {
  loginFinished(upstream: string, outcome: LoginOutcome): void;
  /** A reused browser session's membership recheck (the `session` trigger of the membership counters). */
  recheckFinished(upstream: string, trigger: 'session', outcome: 'ok' | 'revoked' | 'unavailable'): void;
  accountOffboarded(upstream: string): void;
}

export interface InteractionRouterDeps {
  config: Config;
  interactions: InteractionPort;
  upstreams: UpstreamsPort;
  accounts: AccountsPort;
  store: Store;
  log: Logger;
  /** Pages to render with; default `createPages(config)`. */
  pages?: Pages;
  /** Default: counts nothing. */
  metrics?: LoginMetrics;
}

export interface Ctx extends Required<InteractionRouterDeps> {
  paths: Paths;
  csrf: Csrf;
  legs(upstreamId: string): UpstreamLegs;
  /** The upstream's strategy, created once per upstream (the callback URL and leg store never change). */
  strategy(upstream: Upstream): Strategy;
  /** form-action sources for pages of this client's interactions. */
  formActions(clientId: string | undefined): string[];
}

export function createContext(deps: InteractionRouterDeps): Ctx {
  const { config } = deps;
  const paths = createPaths(config.issuer);
  const legStores = new Map<string, UpstreamLegs>();
  const strategies = new Map<string, Strategy>();
  const actions = new Map(config.clients.map((c) => [c.client_id, clientFormActions(c)]));

  function legs(upstreamId: string): UpstreamLegs {
    let legStore = legStores.get(upstreamId);
    if (!legStore) {
      legStore = createLegStore({ records: deps.store.ephemeral, upstreamId, paths, maxTtlSeconds: config.ttl.interaction });
      legStores.set(upstreamId, legStore);
    }
    return legStore;
  }

  return {
    ...deps,
    pages: deps.pages ?? createPages(config),
    metrics: deps.metrics ?? { loginFinished() {}, recheckFinished() {}, accountOffboarded() {} },
    paths,
    csrf: createCsrf({ secrets: config.cookieSecrets, paths, ttlSeconds: config.ttl.interaction }),
    legs,
    strategy(upstream) {
      let strategy = strategies.get(upstream.id);
      if (!strategy) {
        strategy = upstream.createStrategy(paths.callbackUrl(upstream.id), legs(upstream.id));
        strategies.set(upstream.id, strategy);
      }
      return strategy;
    },
    formActions: (clientId) => (clientId ? actions.get(clientId) ?? [] : []),
  };
}
