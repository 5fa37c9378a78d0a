/**
 * The one place that wires the modules together (STYLE §1): config → store → keys → accounts,
 * upstreams, membership → provider → interactions → express app. `buildBridge` returns the request
 * handler without listening, so tests run exactly the production wiring on a port of their own.
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { createAccounts, claimsFor, type Accounts } from '../accounts/index.js';
import { createMembership, type Membership } from '../accounts/membership.js';
import { loadKeys } from '../oidc/keys.js';
import { createProvider, type ProviderBundle } from '../oidc/provider.js';
import { createInteractionRouter, createPages } from '../interactions/index.js';
import { createApp, type AppDeps } from '../server/app.js';
import { createMetrics } from '../server/metrics.js';
import { listen } from '../server/listen.js';
import { openStore, type StoreOptions } from '../store/index.js';
import type { Store } from '../store/types.js';
import { openUpstreams, type UpstreamRegistry } from '../upstreams/registry.js';
import { runAccountsCommand } from './accounts.js';

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
}

export interface Bridge {
  handler: RequestListener;
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

/** config.store → the store module's options. */
export function storeOptionsOf(config: Config['store']): StoreOptions {
  if (config.type === 'memory') return { type: 'memory' };
  const hostPort = (s: string) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
  };
  return {
    type: 'redis',
    url: config.url,
    keyPrefix: config.keyPrefix,
    commandTimeoutMs: config.commandTimeoutMs,
    ...(config.sentinel ? { sentinelName: config.sentinel.name, sentinels: config.sentinel.nodes.map(hostPort), sentinelPassword: config.sentinel.password } : {}),
    ...(config.cluster ? { cluster: { nodes: config.cluster.nodes.map(hostPort) } } : {}),
  };
}

function maxSignedLifetime(config: Config): number {
  return Math.max(config.ttl.idToken, config.ttl.accessToken);
}

export async function buildBridge(config: Config, options: BuildOptions): Promise<Bridge> {
  const log = options.log ?? createLogger({ level: config.logging.level });
  const loadSigningKeys = () => loadKeys({
    dir: config.keys.dir,
    production: options.production,
    maxTokenLifetimeSeconds: maxSignedLifetime(config),
    log,
    ...(options.configPath ? { configPath: options.configPath } : {}),
  });
  // Keys first: a start-up that must refuse (production without keys) opens no connection.
  let keys = await loadSigningKeys();
  const store = options.store ?? openStore(storeOptionsOf(config.store));
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const counters = createMetrics(metrics, { clientIds: config.clients.map((c) => c.client_id), upstreamIds: config.upstreams.map((u) => u.id) });

  const accounts = createAccounts({ store, usernames: config.usernames, log });
  const upstreams = await openUpstreams(config.upstreams, { log, store, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const membership = createMembership({ accounts, upstreams, store, configs: config.upstreams, log, metrics: counters });
  const pages = createPages(config);

  const makeProvider = () => createProvider({
    config,
    store,
    jwks: keys.jwks,
    accounts,
    claimsFor,
    recheck: (account) => membership.onRefresh(account),
    needsRecheck: (sub, loginTs) => membership.needsRecheck(sub, loginTs),
    pages,
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
    store,
    log,
    pages,
    metrics: counters,
  });
  const assembled = createApp({
    config, provider: bundle, store, interactionsRouter, log, metricsRegistry: metrics, pages,
    ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}),
  });

  // A pending key becomes the signer, or a retired one stops being published: rebuild the provider
  // with the new order. Timers are unref'd so they never keep a finished process alive.
  let keyTimer: NodeJS.Timeout | undefined;
  const scheduleKeyChange = () => {
    if (!keys.nextChangeAt) return;
    const delay = Math.min(Math.max(keys.nextChangeAt.getTime() - Date.now(), 1000), 2 ** 31 - 1);
    keyTimer = setTimeout(() => {
      loadSigningKeys().then((next) => {
        keys = next;
        bundle = makeProvider();
        assembled.swapProvider(bundle);
        log.info({ nextChangeAt: keys.nextChangeAt?.toISOString() }, 'signing keys changed: provider rebuilt');
      }, (err: unknown) => log.error({ err }, 'reloading signing keys failed; keeping the current ones'))
        .finally(scheduleKeyChange);
    }, delay);
    keyTimer.unref();
  };
  scheduleKeyChange();

  void upstreams.init();
  const sweeper = membership.startSweeper();

  return {
    handler: assembled.app as unknown as RequestListener,
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
      clearTimeout(keyTimer);
      sweeper.stop();
      await upstreams.close();
      if (!options.store) await store.close();
    },
  };
}

/** `oidc-bridge serve`: build, listen, and drain cleanly on SIGTERM/SIGINT. */
export async function serveConfig(config: Config, options: { configPath?: string; production: boolean; banner?: string }): Promise<void> {
  const log = createLogger({ level: config.logging.level });
  const bridge = await buildBridge(config, { production: options.production, log, ...(options.configPath ? { configPath: options.configPath } : {}) });
  const listening = await listen(bridge.handler, config.listen);
  log.info({ issuer: config.issuer, listen: listening.url, store: config.store.type }, 'oidc-bridge listening');
  if (options.banner) process.stderr.write(options.banner);
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down: draining connections');
    bridge.setShuttingDown();
    await listening.close();
    await bridge.close();
    log.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** `oidc-bridge accounts …` against the configured store. */
export async function runAccountsFromConfig(config: Config, argv: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  const store = openStore(storeOptionsOf(config.store));
  try {
    // Audit lines (rename, revoke) reach the log whatever logging.level says.
    const audit = createLogger({ level: 'info', name: 'oidc-bridge-audit' });
    const accounts = createAccounts({ store, usernames: config.usernames, log: audit });
    return await runAccountsCommand(argv, { accounts, ...io });
  } finally {
    await store.close();
  }
}

/** Listens on a free port first, so an issuer that names the port can be built (tests, demo on port 0). */
export async function listenFirst(host: string, port: number): Promise<{ url: string; attach(handler: RequestListener): void; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    attach: (handler) => {
      server.on('request', handler);
    },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export { serveDemo } from './demo.js';
