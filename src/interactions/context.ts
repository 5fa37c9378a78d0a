/**
 * What every interaction step works with: the router's dependencies plus the pieces built once per
 * router (pages, paths, CSRF, one leg store and one cached strategy per upstream), and what the
 * steps of one request hand to each other (`res.locals`).
 */
import type { NextFunction, Request, Response } from 'express';
import type { Strategy } from 'passport';
import type { Logger } from 'pino';
import type { Account } from '../accounts/types.js';
import type { Config } from '../config/schema.js';
import { allowedUpstreams } from '../oidc/clients.js';
import { clientFormActions, createPages, negotiateLocale, type Locale, type Pages } from '../pages/index.js';
import type { Store } from '../store/types.js';
import type { Upstream, UpstreamErrorReason, UpstreamIdentity } from '../upstreams/types.js';
import { createCsrf, type Csrf } from './csrf.js';
import { createLegStore, type Leg, type UpstreamLegs } from './leg-store.js';
import { createPaths, type Paths } from './paths.js';
import type { AccountsPort, InteractionPort, InteractionView, MembershipPort, UpstreamsPort } from './ports.js';

/** How an upstream sign-in ended: the UpstreamError reason, or a callback whose leg (state or interaction) is gone. */
export type LoginOutcome = 'success' | UpstreamErrorReason | 'invalid_state';

/** Counters for the operator (src/server/metrics.ts implements them); session rechecks are counted by membership. */
export interface LoginMetrics {
  loginFinished(upstream: string, outcome: LoginOutcome): void;
}

export interface InteractionRouterDeps {
  config: Config;
  interactions: InteractionPort;
  upstreams: UpstreamsPort;
  accounts: AccountsPort;
  membership: MembershipPort;
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

/** One step of a route (src/interactions/interaction-router.ts): answers, calls `next()`, or throws. */
export type Step = (ctx: Ctx, req: Request, res: Response, next: NextFunction) => void | Promise<void>;

/** What the steps of one request hand to each other, in `res.locals`. */
export interface RequestState {
  /** The interaction the request works on: the page's, or the one the finished leg belongs to. */
  view?: InteractionView;
  /** The language of every page this request answers with. */
  locale?: Locale;
  upstream?: Upstream;
  /** The upstream leg a callback finished. */
  leg?: Leg;
  identity?: UpstreamIdentity;
  account?: Account;
}

export const stateOf = (res: Response): RequestState => res.locals as RequestState;

/** The interaction `loadInteraction` put in place, for the steps after it. */
export function current(res: Response): { view: InteractionView; locale: Locale } {
  const { view, locale } = stateOf(res);
  if (!view || !locale) throw new Error('interaction step run before loadInteraction');
  return { view, locale };
}

/** The request's language: the interaction's or leg's once known, else the browser's Accept-Language. */
export function localeOf(ctx: Ctx, req: Request, res: Response): Locale {
  return (
    stateOf(res).locale ?? negotiateLocale({ acceptLanguage: req.headers['accept-language'], defaultLocale: ctx.config.ui.defaultLocale })
  );
}

/** `?lang=` (the page's own language switch), then `ui_locales`, then Accept-Language. */
export function viewLocale(ctx: Ctx, req: Request, view: Pick<InteractionView, 'params'>): Locale {
  const requested = [req.query.lang, view.params.ui_locales].filter((v): v is string => typeof v === 'string');
  return negotiateLocale({
    uiLocales: requested.join(' '),
    acceptLanguage: req.headers['accept-language'],
    defaultLocale: ctx.config.ui.defaultLocale,
  });
}

/** The upstreams offered to the interaction's client, in its order (src/oidc/clients.ts decides which). */
export function offeredUpstreams(ctx: Ctx, view: Pick<InteractionView, 'clientId'>): Upstream[] {
  return allowedUpstreams(ctx.config, ctx.interactions.clientExtras(view.clientId))
    .map((id) => ctx.upstreams.get(id))
    .filter((u): u is Upstream => u !== undefined);
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
    metrics: deps.metrics ?? { loginFinished() {} },
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
    formActions: (clientId) => (clientId ? (actions.get(clientId) ?? []) : []),
  };
}
