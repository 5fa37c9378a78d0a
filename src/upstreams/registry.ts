/**
 * Builds the configured upstreams (the type → factory map, as dex's server/connector.go) and runs
 * their start-up work. An upstream whose start-up fails (issuer down, bad discovery) is logged and
 * kept: its strategy retries the start-up on first use, so the bridge never needs a restart
 * because an upstream was briefly away.
 */
import type { DingTalkUpstreamConfig, OAuth2UpstreamConfig, OidcUpstreamConfig, UpstreamConfig } from '../config/schema.js';
import { capBodies } from './capped-fetch.js';
import { ConnectorStrategy } from './connector-strategy.js';
import { openDingTalk } from './dingtalk/index.js';
import { httpFetch } from './http-fetch.js';
import type * as OidcUpstream from './oidc/index.js';
import { memoizeUntilSuccess } from './memoize-until-success.js';
import { resolveOAuth2Config } from './oauth2/config.js';
import { openOAuth2 } from './oauth2/index.js';
import { asUpstreamError, type Connector, type InAppLogin, type Upstream } from './types.js';
import type { UpstreamDeps, UpstreamLogger } from './upstream-deps.js';

export type { UpstreamDeps, UpstreamLogger } from './upstream-deps.js';

export type ConnectorFactory<C> = (config: C, deps: UpstreamDeps) => Connector;

export interface UpstreamFactories {
  oauth2: ConnectorFactory<OAuth2UpstreamConfig>;
  oidc: ConnectorFactory<OidcUpstreamConfig>;
  dingtalk: ConnectorFactory<DingTalkUpstreamConfig>;
}

/**
 * The oidc type (and openid-client with it) is loaded by `openUpstreams` only when an oidc upstream
 * is configured: a DingTalk-only bridge does not carry it in memory (bench/RESULTS.md, "Memory").
 */
let oidcModule: typeof OidcUpstream | undefined;
const openOidc: ConnectorFactory<OidcUpstreamConfig> = (config, deps) => {
  if (!oidcModule) throw new Error('the oidc upstream type is loaded by openUpstreams');
  return oidcModule.openOidc(config, deps);
};

export const defaultUpstreamFactories: UpstreamFactories = { oauth2: openOAuth2, oidc: openOidc, dingtalk: openDingTalk };

export interface UpstreamRegistry {
  /** The upstream with this config id, or undefined. */
  get(id: string): Upstream | undefined;
  /** All upstreams, in config order. */
  all(): Upstream[];
  /** Runs every upstream's start-up work; logs failures and never rejects. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where each upstream leg sends the browser first (its login page), from config alone: the page
 * that starts a leg by a form post needs these in its CSP form-action (src/oidc/device.ts). An
 * oidc upstream's is its issuer, where its discovered authorization endpoint normally lives.
 */
export function loginPageUrls(configs: UpstreamConfig[]): string[] {
  return configs.map((c) => {
    switch (c.type) {
      case 'dingtalk':
        return c.endpoints.authorize;
      case 'oauth2':
        return resolveOAuth2Config(c).authorizationURL;
      case 'oidc':
        return c.issuer;
    }
  });
}

export async function openUpstreams(
  configs: UpstreamConfig[],
  deps: UpstreamDeps,
  factories: UpstreamFactories = defaultUpstreamFactories,
): Promise<UpstreamRegistry> {
  if (configs.some((c) => c.type === 'oidc')) oidcModule ??= await import('./oidc/index.js');
  // Every upstream answer is read under the body-size cap (src/upstreams/capped-fetch.ts): the
  // node:http client caps as it reads; an injected fetch (a test double) is wrapped.
  const bounded: UpstreamDeps = { ...deps, fetch: deps.fetch ? capBodies(deps.fetch) : httpFetch };
  const upstreams = configs.map((config) => upstreamOf(build(config, bounded, factories), deps.log));
  const byId = new Map(upstreams.map((u) => [u.id, u]));
  return {
    get: (id) => byId.get(id),
    all: () => [...upstreams],
    async init() {
      await Promise.all(upstreams.map((u) => (u.init ? u.init().catch(() => undefined) : Promise.resolve())));
    },
    async close() {
      const results = await Promise.allSettled(upstreams.map((u) => (u.close ? u.close() : Promise.resolve())));
      results.forEach((r, i) => {
        if (r.status === 'rejected') deps.log.warn({ upstream: upstreams[i]!.id, err: String(r.reason) }, 'upstream did not close cleanly');
      });
    },
  };
}

function build(config: UpstreamConfig, deps: UpstreamDeps, factories: UpstreamFactories): Connector {
  switch (config.type) {
    case 'oauth2':
      return factories.oauth2(config, deps);
    case 'oidc':
      return factories.oidc(config, deps);
    case 'dingtalk':
      return factories.dingtalk(config, deps);
  }
}

/**
 * The connector as the bridge uses it: `init` runs once successfully (a failure is logged and
 * retried on the next call), and strategies and rechecks call it before their first use.
 */
export function upstreamOf(connector: Connector, log: UpstreamLogger): Upstream {
  const { id } = connector;
  const recheck = connector.recheck?.bind(connector);
  const ready = memoizeUntilSuccess(async () => {
    if (!connector.init) return;
    try {
      await connector.init();
      log.info({ upstream: id }, 'upstream ready');
    } catch (err) {
      const failure = asUpstreamError(id, err, 'unavailable');
      log.warn({ upstream: id, reason: failure.reason, err: failure.message }, 'upstream start-up failed; retrying on first use');
      throw failure;
    }
  });
  return {
    id,
    type: connector.type,
    displayName: connector.displayName,
    init: connector.init && ready,
    close: connector.close?.bind(connector),
    recheck:
      recheck &&
      (async (identity) => {
        await ready();
        return recheck(identity);
      }),
    createStrategy: (callbackUrl, legs) => new ConnectorStrategy(connector, callbackUrl, legs, ready),
    ...(connector.inApp ? { inApp: readyInApp(connector.inApp, ready) } : {}),
  };
}

/** The in-app sign-in, with the connector's start-up work run before the code is used. */
function readyInApp(inApp: InAppLogin, ready: () => Promise<void>): InAppLogin {
  return {
    detects: (req) => inApp.detects(req),
    page: inApp.page,
    async signIn(code) {
      await ready();
      return inApp.signIn(code);
    },
  };
}
