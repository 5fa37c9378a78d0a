/**
 * The one test bridge: every protocol, integration, end-to-end and conformance test starts its
 * bridge here, listening on 127.0.0.1 with an issuer that carries its real port (it listens
 * first, then builds). The options say what differs:
 *
 * - `upstream`: whom people sign in with.
 *   - 'none' (default): no upstream. The provider (src/oidc/provider.ts) and app (src/server/app.ts)
 *     with an auto-login interactions router (test/helpers/auto-login.ts) and accounts in a Map:
 *     for tests of the OIDC protocol itself, which swap in their own recheck, pages or router.
 *   - 'dingtalk': the DingTalk sandbox (src/sandbox) on a port of its own, driven through its
 *     login page (test/helpers/dingtalk-login.ts).
 *   - 'doubles': the fake IDaaS and two fake OIDC issuers (test/doubles), driven by
 *     test/helpers/upstream-login.ts.
 *   - 'oidc-issuer': one fake OIDC issuer under two upstream ids (`corp`, `backup`): the
 *     conformance suite's OP.
 *   Every kind but 'none' runs the production wiring, `buildBridge` (src/server/bridge.ts).
 * - `store`: memory (optionally on a `clock` the test controls) or Redis under a fresh key prefix
 *   removed on close; `replicas`: several bridges sharing one Redis prefix behind one issuer.
 * - `storeEncryptionKeys`: `store.encryptionKeys`.
 * - `issuerPath`, `httpsIssuer`, `clients`, `configPatch` (any other top-level config key).
 */
import type { RequestListener } from 'node:http';
import type { Router } from 'express';
import type { z } from 'zod';
import type { Account } from '../../src/accounts/types.js';
import { claimsFor as realClaimsFor } from '../../src/accounts/claims.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { loadKeys, maxSignedTokenLifetime } from '../../src/oidc/keys.js';
import { createProvider, type ProviderBundle, type ProviderDeps } from '../../src/oidc/provider.js';
import { createApp, type App } from '../../src/server/app.js';
import { buildBridge, type Bridge as WiredReplica } from '../../src/server/bridge.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { createDingTalkSandbox, type DingTalkSandbox } from '../../src/sandbox/index.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { startFakeOidcIssuer, type FakeOidcIssuer, type FakeOidcUser } from '../doubles/fake-oidc-issuer.js';
import { autoLoginRouter } from './auto-login.js';
import {
  DINGTALK_SECRETS,
  dingtalkDriver,
  dingtalkUpstream,
  kubectlClient,
  kubesphereClient,
  type DingTalkDriver,
} from './dingtalk-login.js';
import { sharedKeysDir } from './keys.js';
import { captureLogs, type LogLine } from './logs.js';
import { cleanupPrefix, LOCAL_REDIS_URL, testPrefix } from './redis.js';
import {
  registerCallbacks,
  standardClients,
  startDoubles,
  upstreamConfigs,
  type Doubles,
  type DoublesOptions,
  type UpstreamId,
} from './upstream-login.js';

export type ConfigInput = z.input<typeof configSchema>;
export type ClientInput = ConfigInput['clients'][number];

export const COOKIE_SECRET = 'test-cookie-secret-0123456789abcdef';
export const RP = 'https://rp.example.test';

/** The clients of an upstream-less bridge; secrets are `<client_id>-secret`. */
export const TEST_CLIENTS: ClientInput[] = [
  {
    client_id: 'web',
    client_secret: 'web-secret',
    client_name: 'Web App',
    redirect_uris: [`${RP}/cb`],
    post_logout_redirect_uris: [`${RP}/bye`],
    grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true,
    groups: { prefix: 'ding:' },
  },
  {
    client_id: 'cli',
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1:8000/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true,
  },
  {
    client_id: 'other',
    client_secret: 'other-secret',
    redirect_uris: ['https://other.example.test/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
  },
  { client_id: 'rs', client_secret: 'rs-secret', redirect_uris: ['https://rs.example.test/cb'], resourceServer: true },
  {
    client_id: 'es',
    client_secret: 'es-secret',
    redirect_uris: ['https://es.example.test/cb'],
    id_token_signed_response_alg: 'ES256',
    skipConsent: true,
  },
];

/** The account an upstream-less bridge signs in by default. */
export const ALICE: Account = {
  schemaVersion: 1,
  sub: 'alice-sub-1',
  linkDomain: 'test:upstream',
  linkKey: 'alice',
  username: 'alice',
  status: 'active',
  upstream: 'test',
  profile: {
    upstream: 'test',
    subject: 'alice',
    linkDomain: 'test:upstream',
    linkKey: 'alice',
    name: 'Alice Zhang',
    email: 'alice@example.test',
    emailVerified: true,
    phoneNumber: '+8613800000000',
    phoneNumberVerified: true,
    usernameHints: [],
    groups: ['研发中心', '研发中心/平台组'],
    extra: { dingtalk_userid: 'manager4220', job_number: '0042', title: 'Engineer' },
    connectorData: 'never-in-a-token',
  },
  createdAt: 1_700_000_000,
  updatedAt: 1_700_000_000,
  checkedAt: 1_700_000_000,
};

/** The person the 'oidc-issuer' upstream signs in; phone in E.164 so the phone scope has something to release. */
export const UPSTREAM_USER: FakeOidcUser = {
  sub: 'conf-user-1',
  name: 'Li Na',
  email: 'lina@example.test',
  email_verified: true,
  preferred_username: 'lina',
  phone_number: '+8613800000001',
  groups: ['platform'],
};

interface CommonOptions {
  store?: 'memory' | 'redis';
  /** Redis URL (default the shared 127.0.0.1:6379); keys go under a fresh prefix, removed on close when on the shared server. */
  redisUrl?: string;
  /** e.g. '/sso': the issuer becomes http://127.0.0.1:<port>/sso. */
  issuerPath?: string;
  /** An https issuer served over plain http, as behind a TLS-terminating proxy (reach it via `url`). */
  httpsIssuer?: boolean;
  /** Default per upstream kind: TEST_CLIENTS, KubeSphere + kubectl, standardClients(); required for 'oidc-issuer'. */
  clients?: unknown[];
  /** Other top-level config keys (ttl, ui, refreshGraceSeconds, trustProxy …), merged over the defaults. */
  configPatch?: Partial<Record<keyof ConfigInput, unknown>>;
  /** Default: the process's shared key directory (test/helpers/keys.ts); tests that rotate keys bring their own. */
  keysDir?: string;
  /** `store.encryptionKeys` (default none). */
  storeEncryptionKeys?: string[];
}

export interface NoUpstreamOptions extends CommonOptions {
  upstream?: 'none';
  /** Memory store only: its clock (test/helpers/clock.ts), so a TTL (or a session's absolute lifetime) can pass without waiting. */
  clock?: () => number;
  /** Accounts by sub; default: ALICE only. Tests may add, change or delete entries. */
  accounts?: Map<string, Account>;
  claimsFor?: ProviderDeps['claimsFor'];
  recheck?: ProviderDeps['recheck'];
  needsRecheck?: ProviderDeps['needsRecheck'];
  pages?: ProviderDeps['pages'];
  /** Default: the auto-login router signing in `bridge.loginAs.sub`. */
  interactionsRouter?: (bundle: ProviderBundle) => Router;
}

interface WiredOptions extends CommonOptions {
  /** Redis only: this many buildBridge instances sharing one key prefix behind one issuer, requests alternating. */
  replicas?: number;
}

export interface DingTalkOptions extends WiredOptions {
  upstream: 'dingtalk';
  /** Default: a fresh sandbox with the sample organisation. It is listened on its own port either way. */
  sandbox?: DingTalkSandbox;
  /**
   * Keys of the dingtalk upstream's config to replace (another sandbox app's clientId, `timeoutMs`, `recheckAfter` …);
   * a function gets the sandbox's URL first (for keys that point into it, e.g. `inAppLogin.standIn`).
   */
  dingtalk?: Record<string, unknown> | ((sandboxUrl: string) => Record<string, unknown>);
}

export interface DoublesUpstreamOptions extends WiredOptions {
  upstream: 'doubles';
  /** Options of each double (faults, users). */
  doubles?: DoublesOptions;
  /** Keys merged into each upstream's config (e.g. `timeoutMs`). */
  upstreamConfig?: Partial<Record<UpstreamId, Record<string, unknown>>>;
}

export interface OidcIssuerOptions extends WiredOptions {
  upstream: 'oidc-issuer';
  clients: ClientInput[];
}

/** What every test bridge has. */
export interface TestBridge {
  issuer: string;
  /** Where to reach it (the issuer's origin, but http even for an `httpsIssuer`). */
  url: string;
  config: Config;
  /** The store (the first replica's). */
  store: Store;
  /** Every log line of every replica, parsed. */
  logs: LogLine[];
  /** Resolves at the first log line (already written or to come) with this `msg`. */
  logged: (msg: string) => Promise<LogLine>;
  /** Redis key prefix ('' for memory). */
  keyPrefix: string;
  close(): Promise<void>;
}

export interface NoUpstreamBridge extends TestBridge {
  bundle: ProviderBundle;
  app: App;
  accounts: Map<string, Account>;
  /** Whom the auto-login router signs in. */
  loginAs: { sub: string };
  /** Every interaction the auto-login router saw. */
  interactions: { prompt: string; reasons: string[]; clientId: string; params: Record<string, unknown> }[];
}

/** The production wiring (buildBridge), one or more replicas. */
export interface WiredBridge extends TestBridge {
  /** The replica answering (the first one; a new one after `restart`). */
  readonly bridge: WiredReplica;
  readonly replicas: WiredReplica[];
  /** Requests each replica answered (the load balancer alternates). */
  served: readonly number[];
  /** A restart: new replicas from the same config (keys re-read; a memory store starts empty) behind the same issuer. */
  restart(): Promise<void>;
}

export type DingTalkBridge = WiredBridge & DingTalkDriver;
export type DoublesBridge = WiredBridge & { doubles: Doubles };
export type OidcIssuerBridge = WiredBridge & { upstream: FakeOidcIssuer };

/** Kept for the tests that name the upstream-less bridge `Bridge`. */
export type Bridge = NoUpstreamBridge;

export type BridgeOptions = NoUpstreamOptions | DingTalkOptions | DoublesUpstreamOptions | OidcIssuerOptions;

export function startBridge(options?: NoUpstreamOptions): Promise<NoUpstreamBridge>;
export function startBridge(options: DingTalkOptions): Promise<DingTalkBridge>;
export function startBridge(options: DoublesUpstreamOptions): Promise<DoublesBridge>;
export function startBridge(options: OidcIssuerOptions): Promise<OidcIssuerBridge>;
export async function startBridge(options: BridgeOptions = {}): Promise<TestBridge> {
  const replicas = 'replicas' in options ? (options.replicas ?? 1) : 1;
  if (replicas > 1 && options.store !== 'redis') throw new Error('replicas share state through Redis: use store "redis"');
  // Bound first: the issuer names the port; nobody knows the URL before the handler is attached.
  const listening = await listen(undefined, { host: '127.0.0.1', port: 0 });
  // The upstream servers and the Redis prefix, undone last (in reverse).
  const cleanups: (() => Promise<void>)[] = [];
  const closeRest = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  const close = async () => {
    await listening.close({ graceMs: 0 });
    await closeRest();
  };
  try {
    const origin = options.httpsIssuer ? listening.url.replace(/^http:/, 'https:') : listening.url;
    const base = await baseOf(options, `${origin}${options.issuerPath ?? ''}`, listening, cleanups);
    if (options.upstream === undefined || options.upstream === 'none') return await startNoUpstream(options, base, listening, closeRest);
    return await startWired(options, base, listening, replicas, closeRest);
  } catch (err) {
    await close();
    throw err;
  }
}

interface Base {
  config: Config;
  logs: ReturnType<typeof captureLogs>;
  keyPrefix: string;
  /** Set for the kinds whose upstream servers the harness started. */
  extras: Record<string, unknown>;
  /** After the bridge is built: e.g. the sandbox learns the bridge's callback URL. */
  onBuilt?: (config: Config) => void;
}

/** The upstream servers, the config and the log capture every kind shares. */
async function baseOf(options: BridgeOptions, issuer: string, listening: Listening, cleanups: (() => Promise<void>)[]): Promise<Base> {
  const keyPrefix = options.store === 'redis' ? testPrefix('bridge') : '';
  const redisUrl = options.redisUrl ?? LOCAL_REDIS_URL;
  if (keyPrefix && !options.redisUrl) cleanups.push(() => cleanupPrefix(keyPrefix));
  const extras: Record<string, unknown> = {};
  let upstreams: unknown[];
  let clients: unknown[] | undefined = options.clients;
  let onBuilt: Base['onBuilt'];
  switch (options.upstream) {
    case undefined:
    case 'none':
      // Never contacted: the auto-login router signs people in.
      upstreams = [{ id: 'test', type: 'oidc', issuer: 'https://upstream.example.test', clientId: 'bridge' }];
      clients ??= TEST_CLIENTS;
      break;
    case 'dingtalk': {
      const sandbox = options.sandbox ?? createDingTalkSandbox();
      const served = await sandbox.listen();
      cleanups.push(() => served.close());
      Object.assign(extras, { sandbox, sandboxUrl: served.url });
      upstreams = [dingtalkUpstream(served.url, typeof options.dingtalk === 'function' ? options.dingtalk(served.url) : options.dingtalk)];
      clients ??= [kubesphereClient(), kubectlClient()];
      onBuilt = (config) => {
        const upstream = config.upstreams.find((u) => u.type === 'dingtalk');
        if (upstream?.type === 'dingtalk') sandbox.addRedirectUri(upstream.clientId, `${config.issuer}/upstream/${upstream.id}/callback`);
      };
      break;
    }
    case 'doubles': {
      const doubles = await startDoubles(options.doubles);
      cleanups.push(() => doubles.close());
      extras.doubles = doubles;
      upstreams = upstreamConfigs(doubles, options.upstreamConfig);
      registerCallbacks(doubles, issuer);
      clients ??= standardClients();
      break;
    }
    case 'oidc-issuer': {
      const upstream = await startFakeOidcIssuer({ user: UPSTREAM_USER });
      cleanups.push(() => upstream.close());
      extras.upstream = upstream;
      upstreams = ['corp', 'backup'].map((id) => ({
        id,
        type: 'oidc',
        displayName: { 'zh-CN': `企业账号 ${id}`, en: `Corporate ${id}` },
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientSecret: upstream.clientSecret,
        linkDomain: 'conformance',
      }));
      // The double accepts only registered redirect URIs, as real upstreams do.
      for (const id of ['corp', 'backup']) upstream.addRedirectUri(`${issuer}/upstream/${id}/callback`);
      break;
    }
  }
  const config = configSchema.parse({
    issuer,
    listen: { host: '127.0.0.1', port: Number(new URL(listening.url).port) },
    store: {
      ...(keyPrefix ? { type: 'redis', url: redisUrl, keyPrefix, commandTimeoutMs: 2000 } : { type: 'memory' }),
      encryptionKeys: options.storeEncryptionKeys ?? [],
    },
    keys: { dir: options.keysDir ?? (await sharedKeysDir()) },
    cookieSecrets: [COOKIE_SECRET],
    logging: { level: 'debug' },
    upstreams,
    clients,
    ...options.configPatch,
  });
  return { config, logs: captureLogs('debug'), keyPrefix, extras, ...(onBuilt ? { onBuilt } : {}) };
}

function openTestStore(options: NoUpstreamOptions, config: Config): Store {
  if (config.store.type === 'redis') {
    return openRedisStore({ url: config.store.url, keyPrefix: config.store.keyPrefix, commandTimeoutMs: 500, readyWaitMs: 300 });
  }
  return openMemoryStore(options.clock ? { now: options.clock } : {});
}

function common(base: Base, listening: Listening, store: Store, close: () => Promise<void>): TestBridge {
  return {
    issuer: base.config.issuer,
    url: listening.url,
    config: base.config,
    store,
    logs: base.logs.lines,
    logged: base.logs.logged,
    keyPrefix: base.keyPrefix,
    close,
  };
}

async function startNoUpstream(
  options: NoUpstreamOptions,
  base: Base,
  listening: Listening,
  closeRest: () => Promise<void>,
): Promise<NoUpstreamBridge> {
  const { config } = base;
  const { log } = base.logs;
  const store = openTestStore(options, config);
  const close = async () => {
    await listening.close({ graceMs: 500 });
    await store.close();
    await closeRest();
  };
  try {
    const keys = await loadKeys({
      dir: config.keys.dir,
      production: false,
      maxTokenLifetimeSeconds: maxSignedTokenLifetime(config.ttl),
      log,
    });
    const accounts = options.accounts ?? new Map([[ALICE.sub, structuredClone(ALICE)]]);
    const bundle = createProvider({
      config,
      store,
      jwks: keys.jwks,
      log,
      accounts: { get: async (sub) => accounts.get(sub) },
      claimsFor: options.claimsFor ?? realClaimsFor,
      ...(options.recheck ? { recheck: options.recheck } : {}),
      ...(options.needsRecheck ? { needsRecheck: options.needsRecheck } : {}),
      ...(options.pages ? { pages: options.pages } : {}),
      // The session's absolute lifetime runs on the same clock as the store's TTLs.
      ...(options.clock ? { now: () => options.clock!() / 1000 } : {}),
    });
    const loginAs = { sub: ALICE.sub };
    const seen: NoUpstreamBridge['interactions'] = [];
    const router =
      options.interactionsRouter?.(bundle) ??
      autoLoginRouter(bundle.interactions, {
        accountId: () => loginAs.sub,
        onInteraction: (view) => seen.push({ prompt: view.prompt, reasons: view.reasons, clientId: view.clientId, params: view.params }),
      });
    const app = createApp({
      config,
      provider: bundle,
      store,
      interactionsRouter: router,
      log,
      ...(options.pages ? { pages: options.pages } : {}),
    });
    listening.attach(app.handler);
    return { ...common(base, listening, store, close), bundle, app, accounts, loginAs, interactions: seen };
  } catch (err) {
    await store.close();
    throw err;
  }
}

async function startWired(
  options: BridgeOptions,
  base: Base,
  listening: Listening,
  count: number,
  closeRest: () => Promise<void>,
): Promise<WiredBridge> {
  const { config } = base;
  let replicas: WiredReplica[] = [];
  const build = async () => {
    const built: WiredReplica[] = [];
    try {
      for (let i = 0; i < count; i += 1) built.push(await buildBridge(config, { production: false, log: base.logs.log }));
    } catch (err) {
      await Promise.all(built.map((b) => b.close()));
      throw err;
    }
    return built;
  };
  const close = async () => {
    await listening.close({ graceMs: 0 });
    await Promise.all(replicas.map((b) => b.close()));
    await closeRest();
  };
  replicas = await build();
  base.onBuilt?.(config);
  const served = replicas.map(() => 0);
  listening.attach(roundRobin(() => replicas.map((b) => b.handler), served));
  const wired: WiredBridge = {
    ...common(base, listening, replicas[0]!.store, close),
    get bridge() {
      return replicas[0]!;
    },
    get replicas() {
      return replicas;
    },
    served,
    async restart() {
      const previous = replicas;
      replicas = await build();
      wired.store = replicas[0]!.store;
      await Promise.all(previous.map((b) => b.close()));
    },
  };
  Object.assign(wired, base.extras);
  if (options.upstream === 'dingtalk') Object.assign(wired, dingtalkDriver(wired, base.extras as Parameters<typeof dingtalkDriver>[1]));
  return wired;
}

/** A load balancer in front of the replicas: each request goes to the next one. */
function roundRobin(handlers: () => RequestListener[], served: number[]): RequestListener {
  let next = 0;
  return (req, res) => {
    const current = handlers();
    const i = next % current.length;
    next += 1;
    served[i] = (served[i] ?? 0) + 1;
    current[i]!(req, res);
  };
}

/** Secrets a DingTalk bridge knows: none may appear in a page, a log line or a metric, in any form. */
export const KNOWN_SECRETS = [...DINGTALK_SECRETS, COOKIE_SECRET];
