/**
 * Builds the configured upstreams (the type → factory map, as dex's server/connector.go) and runs
 * their start-up work. An upstream whose start-up fails (issuer down, bad discovery) is logged and
 * kept: its strategy retries the start-up on first use, so the bridge never needs a restart
 * because an upstream was briefly away.
 */
import type passport from 'passport';
import type { DingTalkUpstreamConfig, OAuth2UpstreamConfig, OidcUpstreamConfig, UpstreamConfig } from '../config/schema.js';
import { openDingTalk } from './dingtalk/index.js';
import { memoizeUntilSuccess } from './memoize-until-success.js';
import { openOAuth2 } from './oauth2/index.js';
import { openOidc } from './oidc/index.js';
import { ScopedStrategy } from './scoped-strategy.js';
import { UpstreamError, type LegStore, type Upstream } from './types.js';
import type { UpstreamDeps, UpstreamLogger } from './upstream-deps.js';

export type { UpstreamDeps, UpstreamLogger } from './upstream-deps.js';

export type UpstreamFactory<C> = (config: C, deps: UpstreamDeps) => Upstream | Promise<Upstream>;

export interface UpstreamFactories {
  oauth2: UpstreamFactory<OAuth2UpstreamConfig>;
  oidc: UpstreamFactory<OidcUpstreamConfig>;
  dingtalk?: UpstreamFactory<DingTalkUpstreamConfig>;
}

export const defaultUpstreamFactories: UpstreamFactories = {
  oauth2: openOAuth2,
  oidc: openOidc,
  dingtalk: openDingTalk,
};

export interface UpstreamRegistry {
  /** The upstream with this config id, or undefined. */
  get(id: string): Upstream | undefined;
  /** All upstreams, in config order. */
  all(): Upstream[];
  /** Runs every upstream's start-up work; logs failures and never rejects. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/** Rejects with UpstreamError('misconfigured') when a configured type has no factory. */
export async function openUpstreams(configs: UpstreamConfig[], deps: UpstreamDeps,
  factories: UpstreamFactories = defaultUpstreamFactories): Promise<UpstreamRegistry> {
  const upstreams: Upstream[] = [];
  for (const config of configs) upstreams.push(withLazyInit(await build(config, deps, factories), deps.log));
  const byId = new Map(upstreams.map((u) => [u.id, u]));
  return {
    get: (id) => byId.get(id),
    all: () => [...upstreams],
    async init() {
      await Promise.all(upstreams.map((u) => u.init?.().catch(() => undefined)));
    },
    async close() {
      const results = await Promise.allSettled(upstreams.map((u) => u.close?.()));
      results.forEach((r, i) => {
        if (r.status === 'rejected') deps.log.warn({ upstream: upstreams[i]!.id, err: String(r.reason) }, 'upstream did not close cleanly');
      });
    },
  };
}

function build(config: UpstreamConfig, deps: UpstreamDeps, factories: UpstreamFactories): Upstream | Promise<Upstream> {
  switch (config.type) {
    case 'oauth2': return factories.oauth2(config, deps);
    case 'oidc': return factories.oidc(config, deps);
    case 'dingtalk':
      if (!factories.dingtalk) throw new UpstreamError(config.id, 'misconfigured', 'dingtalk upstream not available');
      return factories.dingtalk(config, deps);
  }
}

/**
 * The upstream as the registry hands it out: `init` runs once successfully (a failure is logged
 * and retried on the next call), and strategies and rechecks call it before their first use.
 */
function withLazyInit(upstream: Upstream, log: UpstreamLogger): Upstream {
  const { init, recheck } = upstream;
  if (!init) return upstream;
  const ready = memoizeUntilSuccess(async () => {
    try {
      await init.call(upstream);
      log.info({ upstream: upstream.id }, 'upstream ready');
    } catch (err) {
      const failure = asUpstreamError(upstream.id, err);
      log.warn({ upstream: upstream.id, reason: failure.reason, err: failure.message }, 'upstream start-up failed; retrying on first use');
      throw failure;
    }
  });
  return {
    id: upstream.id,
    type: upstream.type,
    displayName: upstream.displayName,
    init: ready,
    close: upstream.close?.bind(upstream),
    recheck: recheck && (async (identity) => {
      await ready();
      return recheck.call(upstream, identity);
    }),
    createStrategy(callbackUrl: string, legs: LegStore): passport.Strategy {
      const inner = upstream.createStrategy(callbackUrl, legs);
      return new ScopedStrategy(upstream.id, async () => {
        await ready();
        return inner;
      });
    },
  };
}

function asUpstreamError(upstream: string, err: unknown): UpstreamError {
  return err instanceof UpstreamError ? err : new UpstreamError(upstream, 'unavailable', 'start-up failed', {}, { cause: err });
}
