/**
 * The one place that wires the modules together: config → store → keys → accounts, upstreams,
 * membership → provider → interactions → express app (docs/architecture.md, "Modules").
 * `buildBridge` returns the request handler without listening, so `serve`, the demo and the tests
 * all run exactly this wiring.
 */
import type { RequestListener } from 'node:http';
import type { Registry } from 'prom-client';
import { groupsPrefixOf, legacySubjectUpstreamsOf, type Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { createAccounts, claimsFor, unvouchedUpstreamsOf, type Accounts } from '../accounts/index.js';
import { createMembership, type Membership } from '../accounts/membership.js';
import { loadKeys, maxSignedTokenLifetime, type LoadedKeys } from '../oidc/keys.js';
import { createProvider, type ProviderBundle } from '../oidc/provider.js';
import { createInteractionRouter } from '../interactions/index.js';
import { createPages, formActionSource } from '../pages/index.js';
import { openStore, sealRecords, storeOptionsOf } from '../store/index.js';
import type { Store } from '../store/types.js';
import { processEgressProxy, viaEgressProxy } from '../upstreams/egress-proxy.js';
import { loginPageUrls, openUpstreams, type UpstreamRegistry } from '../upstreams/registry.js';
import { createApp, type AppDeps } from './app.js';
import { createMetrics, createMetricsRegistry, metricsHandler } from './metrics.js';

export interface BuildOptions {
  production: boolean;
  log?: Logger;
  /** Where `keys generate` would be run against, for the production error message. */
  configPath?: string;
  /** Injected fetch for upstream calls (tests). */
  fetch?: typeof fetch;
  /** An already opened store (tests sharing one); default: opened from config.store. */
  store?: Store;
  /** More routes at absolute paths, before the bridge's own (the demo's sandbox and client). */
  extraRoutes?: AppDeps['extraRoutes'];
  /** Steps before the engine (src/server/dispatch.ts `BeforeEngineStep`), e.g. rate limits. */
  beforeEngine?: AppDeps['beforeEngine'];
}

export interface Bridge {
  handler: RequestListener;
  /** `GET /metrics` for the metrics listener (`metrics.listen`); the issuer's handler does not serve it. */
  metricsHandler: RequestListener;
  config: Config;
  store: Store;
  accounts: Accounts;
  upstreams: UpstreamRegistry;
  membership: Membership;
  provider(): ProviderBundle;
  log: Logger;
  metrics: Registry;
  setShuttingDown(): void;
  close(): Promise<void>;
}

export async function buildBridge(config: Config, options: BuildOptions): Promise<Bridge> {
  const log = options.log ?? createLogger({ level: config.logging.level });
  const keysOptions = {
    dir: config.keys.dir,
    production: options.production,
    maxTokenLifetimeSeconds: maxSignedTokenLifetime(config.ttl),
    log,
    ...(options.configPath ? { configPath: options.configPath } : {}),
  };
  const loadSigningKeys = () => loadKeys(keysOptions);
  // A bad HTTPS_PROXY / HTTP_PROXY / NO_PROXY refuses the start before anything opens.
  const egress = processEgressProxy();
  if (egress) log.info({ egressProxy: egress.described }, 'outgoing calls go through an egress proxy');
  // Keys first: a start-up that must refuse (production without keys) opens no connection.
  let keys = await loadSigningKeys();
  const store = options.store ?? (await openStore(storeOptionsOf(config.store)));
  const metrics = createMetricsRegistry();
  const counters = createMetrics(metrics, {
    clientIds: config.clients.map((c) => c.client_id),
    upstreamIds: config.upstreams.map((u) => u.id),
  });

  const accounts = createAccounts({
    store,
    usernames: config.usernames,
    unvouchedUpstreams: unvouchedUpstreamsOf(config.upstreams),
    legacySubjectUpstreams: legacySubjectUpstreamsOf(config.upstreams),
    log,
  });
  const groupsPrefixByUpstream = new Map(config.upstreams.map((u) => [u.id, groupsPrefixOf(u)]));
  // An account of an upstream no longer configured keeps the default namespace, `<id>:`.
  const groupsPrefixes = (id: string) => groupsPrefixByUpstream.get(id) ?? groupsPrefixOf({ id });
  const upstreams = await openUpstreams(config.upstreams, {
    log,
    store,
    secrets: sealRecords(store.ephemeral, config.store.encryptionKeys),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const membership = createMembership({
    accounts,
    upstreams,
    store,
    configs: config.upstreams,
    log,
    metrics: counters,
    sessionAbsolute: config.ttl.sessionAbsolute,
  });
  const pages = createPages(config);
  const upstreamFormActions = [...new Set(loginPageUrls(config.upstreams).map(formActionSource))].filter(
    (s): s is string => s !== undefined,
  );

  const makeProvider = () =>
    createProvider({
      config,
      store,
      jwks: keys.jwks,
      accounts,
      claimsFor: (account, policy) => claimsFor(account, policy, groupsPrefixes),
      recheck: (account, grant) => membership.onRefresh(account, grant.authTime),
      needsRecheck: (sub, loginTs) => membership.needsRecheck(sub, loginTs),
      pages,
      upstreamFormActions,
      // A client's jwks_uri and back-channel logout go out as the upstream calls do.
      fetch: viaEgressProxy((url, init) => globalThis.fetch(url, init), processEgressProxy),
      log,
      metrics: counters,
    });
  let bundle = makeProvider();

  const interactionsRouter = createInteractionRouter({
    config,
    interactions: {
      get: (req, res, uid) => bundle.interactions.get(req, res, uid),
      find: (uid) => bundle.interactions.find(uid),
      finishLogin: (uid, login) => bundle.interactions.finishLogin(uid, login),
      finishConsent: (uid) => bundle.interactions.finishConsent(uid),
      finishError: (uid, error, description) => bundle.interactions.finishError(uid, error, description),
      clientExtras: (clientId) => bundle.interactions.clientExtras(clientId),
    },
    upstreams,
    accounts,
    membership,
    store,
    log,
    pages,
    metrics: counters,
  });
  const assembled = createApp({
    config,
    provider: bundle,
    store,
    interactionsRouter,
    log,
    metricsRegistry: metrics,
    metrics: counters,
    pages,
    ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}),
    ...(options.beforeEngine ? { beforeEngine: options.beforeEngine } : {}),
  });

  // keys.dir is re-read every keys.reloadInterval, and when the schedule says a pending key becomes
  // the signer or a retired one stops being published: whenever what the keys say differs from what
  // the provider was built with, it is rebuilt. So a key `keys rotate` added (an updated Secret) is
  // published at the next re-read, well before it activates, without a restart. Timers are unref'd
  // so they never keep a finished process alive.
  let keyTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastReloadFailed = false;
  const reloadFailures = onceUntilRecovered(log);
  const reloadKeys = async () => {
    const scheduled = keys.nextChangeAt !== undefined && keys.nextChangeAt.getTime() <= Date.now();
    // A re-read never generates keys (as a production start would not): an emptied directory is
    // an error that keeps the current keys. Quietly first: a re-read that changes nothing must not
    // repeat the start-up's warnings (loose key files, a missing ES256 key) every interval.
    const reread = { ...keysOptions, production: true };
    const next = await loadKeys({ ...reread, log: { warn() {} } });
    if (sameKeys(next, keys)) return;
    const loaded = await loadKeys(reread);
    if (closed) return;
    keys = loaded;
    bundle = makeProvider();
    assembled.swapProvider(bundle);
    log.info(
      { kids: keys.jwks.keys.map((k) => k.kid), nextChangeAt: keys.nextChangeAt?.toISOString() },
      scheduled ? 'signing keys changed: provider rebuilt' : 'signing key files changed: provider rebuilt',
    );
  };
  const scheduleKeyReload = () => {
    if (closed) return;
    // After a failed re-read, the next try is an interval away: a change already due (keys.nextChangeAt
    // in the past) would otherwise retry every second.
    const untilChange = keys.nextChangeAt && !lastReloadFailed ? Math.max(keys.nextChangeAt.getTime() - Date.now(), 1000) : Infinity;
    keyTimer = setTimeout(
      () => {
        reloadKeys()
          .then(
            () => {
              lastReloadFailed = false;
              reloadFailures.recovered('signing keys read again');
            },
            (err: unknown) => {
              lastReloadFailed = true;
              reloadFailures.failed(err, 'reading the signing keys failed; keeping the current ones');
            },
          )
          .finally(scheduleKeyReload);
      },
      // setTimeout holds at most 2^31 − 1 ms; a longer delay would fire at once.
      Math.min(untilChange, config.keys.reloadInterval * 1000, 2 ** 31 - 1),
    );
    keyTimer.unref();
  };
  scheduleKeyReload();

  void upstreams.init();
  const sweeper = membership.startSweeper();

  return {
    handler: assembled.handler,
    metricsHandler: metricsHandler(metrics),
    config,
    store,
    accounts,
    upstreams,
    membership,
    provider: () => bundle,
    log,
    metrics,
    setShuttingDown: () => assembled.setShuttingDown(),
    async close() {
      closed = true;
      clearTimeout(keyTimer);
      sweeper.stop();
      await upstreams.close();
      if (!options.store) await store.close();
    },
  };
}

/** The same keys in the same order (the first of each algorithm signs) and the same next change. */
function sameKeys(a: LoadedKeys, b: LoadedKeys): boolean {
  const kids = (keys: LoadedKeys) => keys.jwks.keys.map((k) => k.kid).join(' ');
  return kids(a) === kids(b) && a.nextChangeAt?.getTime() === b.nextChangeAt?.getTime();
}

/** A failure that repeats every interval is logged when it starts (or changes), and its end once. */
function onceUntilRecovered(log: Logger) {
  let failing: string | undefined;
  return {
    failed(err: unknown, message: string) {
      const text = err instanceof Error ? err.message : String(err);
      if (failing === text) return;
      failing = text;
      log.error({ err }, message);
    },
    recovered(message: string) {
      if (failing === undefined) return;
      failing = undefined;
      log.info(message);
    },
  };
}
