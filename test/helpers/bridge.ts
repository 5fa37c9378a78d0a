/**
 * A whole bridge for protocol tests: config, store (memory or Redis under a random prefix),
 * provider, express app, listening on 127.0.0.1 with an issuer that carries the real port.
 * The server listens first (with a handler that waits for the app) so the issuer can name the
 * port it got.
 */
import type { Router } from 'express';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { pino } from 'pino';
import type { Account, ClaimPolicy } from '../../src/accounts/types.js';
import { claimsFor as realClaimsFor } from '../../src/accounts/claims.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { Recheck } from '../../src/oidc/find-account.js';
import type { NeedsRecheck } from '../../src/oidc/login-policy.js';
import type { ProtocolPages as Pages } from '../../src/pages/index.js';
import { createProvider, type ProviderBundle } from '../../src/oidc/provider.js';
import { createApp, type App } from '../../src/server/app.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { autoLoginRouter } from './auto-login.js';
import { cleanupPrefix, LOCAL_REDIS_URL, testPrefix } from './redis.js';

export const COOKIE_SECRET = 'test-cookie-secret-0123456789abcdef';
export const RP = 'https://rp.example.test';

/** The clients every test bridge has; secrets are `<client_id>-secret`. */
export const TEST_CLIENTS = [
  {
    client_id: 'web', client_secret: 'web-secret', client_name: 'Web App',
    redirect_uris: [`${RP}/cb`], post_logout_redirect_uris: [`${RP}/bye`],
    grant_types: ['authorization_code', 'refresh_token'], skipConsent: true, groups: { prefix: 'ding:' },
  },
  {
    client_id: 'cli', token_endpoint_auth_method: 'none', application_type: 'native',
    redirect_uris: ['http://127.0.0.1:8000/cb'], grant_types: ['authorization_code', 'refresh_token'], skipConsent: true,
  },
  {
    client_id: 'other', client_secret: 'other-secret', redirect_uris: ['https://other.example.test/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
  },
  { client_id: 'rs', client_secret: 'rs-secret', redirect_uris: ['https://rs.example.test/cb'], resourceServer: true },
  {
    client_id: 'es', client_secret: 'es-secret', redirect_uris: ['https://es.example.test/cb'],
    id_token_signed_response_alg: 'ES256', skipConsent: true,
  },
];

export const ALICE: Account = {
  schemaVersion: 1,
  sub: 'alice-sub-1',
  linkDomain: 'test:upstream',
  linkKey: 'alice',
  username: 'alice',
  status: 'active',
  upstream: 'test',
  profile: {
    upstream: 'test', subject: 'alice', linkDomain: 'test:upstream', linkKey: 'alice',
    name: 'Alice Zhang', email: 'alice@example.test', emailVerified: true,
    phoneNumber: '+8613800000000', phoneNumberVerified: true,
    usernameHints: [], groups: ['研发中心', '研发中心/平台组'],
    extra: { dingtalk_userid: 'manager4220', job_number: '0042', title: 'Engineer' },
    connectorData: 'never-in-a-token',
  },
  createdAt: 1_700_000_000,
  updatedAt: 1_700_000_000,
  checkedAt: 1_700_000_000,
};

let keysPromise: Promise<{ keys: JWK[] }> | undefined;
/** One RS256 and one ES256 key per test process (RSA generation is slow). */
export function testJwks(): Promise<{ keys: JWK[] }> {
  keysPromise ??= (async () => {
    const make = async (alg: 'RS256' | 'ES256', kid: string) => {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
    };
    return { keys: [await make('RS256', 'test-rs256'), await make('ES256', 'test-es256')] };
  })();
  return keysPromise;
}

export interface BridgeOptions {
  store?: 'memory' | 'redis';
  /** Redis URL (default the shared 127.0.0.1:6379); keys go under a random prefix removed on close. */
  redisUrl?: string;
  /** e.g. '/sso': the issuer becomes http://127.0.0.1:<port>/sso. */
  issuerPath?: string;
  /** An https issuer served over plain http, as behind a TLS-terminating proxy (reach it via `url`). */
  httpsIssuer?: boolean;
  configPatch?: Partial<Record<keyof Config, unknown>>;
  /** Accounts by sub; default: ALICE only. Tests may add, change or delete entries. */
  accounts?: Map<string, Account>;
  claimsFor?: (account: Account, policy: ClaimPolicy) => Record<string, unknown>;
  recheck?: Recheck;
  needsRecheck?: NeedsRecheck;
  pages?: Pages;
  /** Default: the auto-login router signing in `bridge.loginAs.sub`. */
  interactionsRouter?: (bundle: ProviderBundle) => Router;
}

export interface Bridge {
  issuer: string;
  url: string;
  config: Config;
  store: Store;
  bundle: ProviderBundle;
  app: App;
  accounts: Map<string, Account>;
  /** Whom the auto-login router signs in. */
  loginAs: { sub: string };
  /** Every interaction the auto-login router saw. */
  interactions: { prompt: string; reasons: string[]; clientId: string; params: Record<string, unknown> }[];
  close(): Promise<void>;
}

function buildConfig(issuer: string, port: number, store: Config['store'], patch: BridgeOptions['configPatch']): Config {
  return configSchema.parse({
    issuer,
    listen: { host: '127.0.0.1', port },
    store,
    cookieSecrets: [COOKIE_SECRET],
    upstreams: [{ id: 'test', type: 'oidc', issuer: 'https://upstream.example.test', clientId: 'bridge' }],
    clients: TEST_CLIENTS,
    ...patch,
  });
}

export async function startBridge(options: BridgeOptions = {}): Promise<Bridge> {
  // Until the app exists every request gets a 503; assemble() then installs the app.
  const listening = await listen((_req, res) => res.writeHead(503).end(), { host: '127.0.0.1', port: 0 });
  const origin = options.httpsIssuer ? listening.url.replace(/^http:/, 'https:') : listening.url;
  const issuer = `${origin}${options.issuerPath ?? ''}`;
  try {
    return await assemble(options, listening, issuer);
  } catch (err) {
    await listening.close({ graceMs: 0 });
    throw err;
  }
}

async function assemble(options: BridgeOptions, listening: Listening, issuer: string): Promise<Bridge> {
  const keyPrefix = testPrefix('bridge');
  const redisUrl = options.redisUrl ?? LOCAL_REDIS_URL;
  const useRedis = options.store === 'redis';
  const storeConfig = useRedis ? { type: 'redis', url: redisUrl, keyPrefix } : { type: 'memory' };
  const config = buildConfig(issuer, Number(new URL(listening.url).port), storeConfig as Config['store'], options.configPatch);
  const store = useRedis ? openRedisStore({ url: redisUrl, keyPrefix, commandTimeoutMs: 500, readyWaitMs: 300 }) : openMemoryStore();
  const accounts = options.accounts ?? new Map([[ALICE.sub, structuredClone(ALICE)]]);
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const closeStore = async () => {
    await store.close();
    if (useRedis && !options.redisUrl) await cleanupPrefix(keyPrefix);
  };
  const jwks = await testJwks();
  let bundle: ProviderBundle;
  try {
    bundle = createProvider({
      config, store, jwks, log,
      accounts: { get: async (sub) => accounts.get(sub) },
      claimsFor: options.claimsFor ?? realClaimsFor,
      ...(options.recheck ? { recheck: options.recheck } : {}),
      ...(options.needsRecheck ? { needsRecheck: options.needsRecheck } : {}),
      ...(options.pages ? { pages: options.pages } : {}),
    });
  } catch (err) {
    await closeStore();
    throw err;
  }
  const loginAs = { sub: ALICE.sub };
  const seen: Bridge['interactions'] = [];
  const router = options.interactionsRouter?.(bundle) ?? autoLoginRouter(bundle.interactions, {
    accountId: () => loginAs.sub,
    onInteraction: (view) => seen.push({ prompt: view.prompt, reasons: view.reasons, clientId: view.clientId, params: view.params }),
  });
  const app = createApp({ config, provider: bundle, store, interactionsRouter: router, log, ...(options.pages ? { pages: options.pages } : {}) });
  listening.server.removeAllListeners('request');
  listening.server.on('request', app.app);
  return {
    issuer, url: listening.url, config, store, bundle, app, accounts, loginAs, interactions: seen,
    async close() {
      await listening.close({ graceMs: 500 });
      await closeStore();
    },
  };
}
