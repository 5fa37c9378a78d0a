/**
 * The whole bridge as production wires it (`buildBridge` from src/server/bridge.ts), listening on
 * 127.0.0.1 with an issuer that carries its real port, against the DingTalk sandbox on a port of
 * its own (as real DingTalk lives on other hosts). Drives a fetch-based Browser through the real
 * login: /auth → interaction → sandbox /oauth2/auth page → the person's choice → callback → bridge
 * → the relying party's redirect URI; openid-client is the relying party.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import type { z } from 'zod';
import { buildBridge, type Bridge } from '../../src/server/bridge.js';
import { listen } from '../../src/server/listen.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { generateKeys } from '../../src/oidc/keys.js';
import {
  createDingTalkSandbox, SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID,
  type DingTalkSandbox, type SandboxListener,
} from '../../src/sandbox/index.js';
import { Browser } from './http-browser.js';
import { cleanupPrefix, LOCAL_REDIS_URL, testPrefix } from './redis.js';

export type ConfigInput = z.input<typeof configSchema>;
export type ClientInput = ConfigInput['clients'][number];

export const COOKIE_SECRET = 'full-bridge-cookie-secret-0123456789abcdef';
export const KUBESPHERE_SECRET = 'kubesphere-client-secret-0123456789';
/** KubeSphere 3.x sends the identity provider's name as a constant `state`. */
export const KUBESPHERE_STATE = 'dingtalk';
export const KUBESPHERE_REDIRECT = 'https://ks.example.test/oauth/redirect/dingtalk';
export const KUBECTL_REDIRECT = 'http://localhost:8000';
export const KUBECTL_GROUPS_PREFIX = 'dingtalk:';

/** KubeSphere-style: confidential (client_secret_basic), no PKCE, no nonce, constant state, skipConsent. */
export function kubesphereClient(redirectUri = KUBESPHERE_REDIRECT): ClientInput {
  return {
    client_id: 'kubesphere', client_secret: KUBESPHERE_SECRET, client_name: 'KubeSphere',
    redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true, upstreams: ['dingtalk'], emitEmail: 'verified',
  };
}

/** kubelogin-style: public, native (loopback redirect, any port), PKCE, groups prefixed. */
export function kubectlClient(): ClientInput {
  return {
    client_id: 'kubectl', token_endpoint_auth_method: 'none', application_type: 'native',
    redirect_uris: [KUBECTL_REDIRECT, 'http://localhost:18000'], grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true, groups: { prefix: KUBECTL_GROUPS_PREFIX, max: 50 },
  };
}

/** The dingtalk upstream against a sandbox at `sandboxUrl`; `overrides` replace keys (clientId, timeoutMs …). */
export function dingtalkUpstream(sandboxUrl: string, overrides: Record<string, unknown> = {}): ConfigInput['upstreams'][number] {
  return {
    id: 'dingtalk', type: 'dingtalk', displayName: { 'zh-CN': '钉钉', en: 'DingTalk' },
    clientId: SANDBOX_APP_KEY, clientSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID,
    endpoints: { authorize: `${sandboxUrl}/oauth2/auth`, api: sandboxUrl, oapi: sandboxUrl },
    ...overrides,
  } as ConfigInput['upstreams'][number];
}

/** One pino line as JSON. */
export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface FullBridgeOptions {
  store: 'memory' | 'redis';
  /** Keys merged over the generated config (top level; replace `upstreams` with dingtalkUpstream(…)). */
  configPatch?: (base: string, sandboxUrl: string) => Partial<ConfigInput>;
  /** Overrides of the dingtalk upstream (e.g. another sandbox app's clientId, `timeoutMs`). */
  upstream?: Record<string, unknown>;
  /** Default: kubesphereClient() and kubectlClient(). */
  clients?: ClientInput[];
  /** Default: a fresh sandbox with the sample organisation. It is listened on its own port either way. */
  sandbox?: DingTalkSandbox;
  /** Redis only: this many buildBridge instances (replicas) sharing one key prefix behind one issuer, requests alternating. */
  replicas?: number;
}

export interface LoginOptions {
  /** Reuse a browser (its bridge session); default a fresh one. */
  browser?: Browser;
  scope?: string;
  /** Default: 'dingtalk' for kubesphere, else random. */
  state?: string;
  /** Default: none for kubesphere (it sends none), else random. */
  nonce?: string | false;
  /** Default: true for public clients. */
  pkce?: boolean;
  redirectUri?: string;
  extra?: Record<string, string>;
  /**
   * Skip the sandbox form and come back with a code the sandbox issued for the person
   * (`sandbox.issueAuthCode`), e.g. to claim another organisation was chosen.
   */
  issuedCode?: { corpId?: string; withCorpId?: boolean };
}

/** Where a login got to before the upstream leg. */
export interface PendingLogin {
  clientId: string;
  browser: Browser;
  redirectUri: string;
  state: string;
  nonce?: string;
  codeVerifier?: string;
  /** The sandbox authorize URL the bridge sent the browser to; absent when the session was reused. */
  upstreamUrl?: URL;
  /** Set when the login ended without an upstream leg (silent session reuse, or a page). */
  done?: LoginResult;
}

export interface LoginResult {
  clientId: string;
  browser: Browser;
  /** The redirect_uri the authorization request carried, exactly. */
  redirectUri: string;
  /** The sandbox login page was part of this login. */
  upstreamLeg: boolean;
  /** The bridge callback DingTalk sent the browser to (carries the authCode: never print it). */
  callbackUrl?: URL;
  /** The relying party's redirect URI with code and state, when the login reached it. */
  redirect?: URL;
  code?: string;
  state?: string;
  /** The page the login ended on instead (a refusal or failure). */
  page?: { status: number; url: string; html: string };
  checks: { state: string; nonce?: string; codeVerifier?: string };
}

export interface FullBridge {
  issuer: string;
  /** The first replica (the only one unless `replicas`). */
  bridge: Bridge;
  replicas: Bridge[];
  /** Requests each replica answered (the load balancer alternates). */
  served: readonly number[];
  config: Config;
  sandbox: DingTalkSandbox;
  sandboxUrl: string;
  /** Every log line of every replica, parsed. */
  logs: LogLine[];
  /** Redis key prefix ('' for memory). */
  keyPrefix: string;
  /** openid-client configuration for a configured client (cached). */
  rp(clientId: string): Promise<client.Configuration>;
  loginAs(userid: string, clientId: string, options?: LoginOptions): Promise<LoginResult>;
  /** /auth up to the sandbox page (or to the end, when no upstream leg is needed). */
  startLogin(clientId: string, options?: LoginOptions): Promise<PendingLogin>;
  /** Follows the retry link of the page a login ended on, in the same browser (to the sandbox page, or to the end). */
  retry(failed: LoginResult): Promise<PendingLogin>;
  /** Posts the person's choice on the sandbox page; returns the callback URL, NOT followed. */
  chooseAtSandbox(pending: PendingLogin, userid: string): Promise<URL>;
  /** Follows a callback URL in `browser` (default the pending login's) to the RP redirect or a page. */
  finishLogin(pending: PendingLogin, callbackUrl: URL, browser?: Browser): Promise<LoginResult>;
  /** The code exchange with openid-client (ID token signature and claims verified). */
  tokens(login: LoginResult): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

let keysDir: Promise<string> | undefined;
/** One key directory per test process (RSA generation is slow); every bridge signs with the same keys. */
function sharedKeysDir(): Promise<string> {
  keysDir ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-full-keys-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await generateKeys(dir);
    return dir;
  })();
  return keysDir;
}

function captureLogs(lines: LogLine[]) {
  return createLogger({ level: 'debug' }, {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
    },
  });
}

function buildConfig(issuer: string, port: number, sandboxUrl: string, storeConfig: ConfigInput['store'], options: FullBridgeOptions, keys: string): Config {
  return configSchema.parse({
    issuer,
    listen: { host: '127.0.0.1', port },
    store: storeConfig,
    keys: { dir: keys },
    cookieSecrets: [COOKIE_SECRET],
    logging: { level: 'debug' },
    upstreams: [dingtalkUpstream(sandboxUrl, options.upstream)],
    clients: options.clients ?? [kubesphereClient(), kubectlClient()],
    ...options.configPatch?.(issuer, sandboxUrl),
  });
}

export async function startFullBridge(options: FullBridgeOptions): Promise<FullBridge> {
  const replicaCount = options.replicas ?? 1;
  if (replicaCount > 1 && options.store !== 'redis') throw new Error('replicas share state through Redis: use store "redis"');
  const sandbox = options.sandbox ?? createDingTalkSandbox();
  const dingtalk: SandboxListener = await sandbox.listen();
  const listener = await listen(undefined, { host: '127.0.0.1', port: 0 });
  const keyPrefix = options.store === 'redis' ? testPrefix('full-bridge') : '';
  const logs: LogLine[] = [];
  const replicas: Bridge[] = [];
  const cleanup = async () => {
    await listener.close({ graceMs: 0 });
    await Promise.all(replicas.map((b) => b.close()));
    await dingtalk.close();
    if (keyPrefix) await cleanupPrefix(keyPrefix);
  };
  try {
    const storeConfig: ConfigInput['store'] = options.store === 'redis'
      ? { type: 'redis', url: LOCAL_REDIS_URL, keyPrefix, commandTimeoutMs: 2000 }
      : { type: 'memory' };
    const config = buildConfig(listener.url, Number(new URL(listener.url).port), dingtalk.url, storeConfig, options, await sharedKeysDir());
    const log = captureLogs(logs);
    for (let i = 0; i < replicaCount; i += 1) replicas.push(await buildBridge(config, { production: false, log }));
    const upstream = config.upstreams.find((u) => u.type === 'dingtalk');
    if (upstream?.type === 'dingtalk') sandbox.addRedirectUri(upstream.clientId, `${config.issuer}/upstream/${upstream.id}/callback`);
    const served = replicas.map(() => 0);
    listener.attach(roundRobin(replicas.map((b) => b.handler), served));
    return createDriver({ issuer: config.issuer, config, replicas, served, sandbox, sandboxUrl: dingtalk.url, logs, keyPrefix, close: cleanup });
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** A load balancer in front of the replicas: each request goes to the next one. */
function roundRobin(handlers: RequestListener[], served: number[]): RequestListener {
  let next = 0;
  return (req, res) => {
    const i = next % handlers.length;
    next += 1;
    served[i] = (served[i] ?? 0) + 1;
    handlers[i]!(req, res);
  };
}

// ---------------------------------------------------------------------------------------------

interface DriverParts {
  issuer: string;
  config: Config;
  replicas: Bridge[];
  served: number[];
  sandbox: DingTalkSandbox;
  sandboxUrl: string;
  logs: LogLine[];
  keyPrefix: string;
  close(): Promise<void>;
}

// `&amp;` last, so an escaped entity is not decoded twice.
const decodeEntities = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
  .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The sandbox login page's hidden fields and the userids it offers. */
function parseSandboxPage(html: string): { hidden: [string, string][]; userids: string[]; action: string } {
  const hidden = [...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)]
    .map((m): [string, string] => [decodeEntities(m[1]!), decodeEntities(m[2]!)]);
  const userids = [...html.matchAll(/<button type="submit" name="userid" value="([^"]*)">/g)].map((m) => decodeEntities(m[1]!));
  const action = decodeEntities(/<form method="post" action="([^"]*)">/.exec(html)?.[1] ?? '');
  return { hidden, userids, action };
}

/** Exact redirect URIs by their WHATWG-normalised form (see sendExactRedirectUri). */
const exactRedirectUris = new Map<string, string>();

/**
 * openid-client derives the token request's redirect_uri from the callback URL, which URL parsing
 * normalises (`http://localhost:8000` → `http://localhost:8000/`); oidc-provider compares it with the
 * authorization request's byte for byte. kubelogin sends the exact string both times: so do we
 * (the openid-client docs' own customFetch recipe).
 */
function sendExactRedirectUri(config: client.Configuration): void {
  config[client.customFetch] = (url, options) => {
    const body = options.body;
    if (body instanceof URLSearchParams && body.get('grant_type') === 'authorization_code') {
      const sent = body.get('redirect_uri');
      const exact = sent === null ? undefined : exactRedirectUris.get(sent);
      if (exact) body.set('redirect_uri', exact);
    }
    return fetch(url, options as RequestInit);
  };
}

function sameTarget(a: URL, b: URL): boolean {
  return a.origin === b.origin && a.pathname.replace(/\/$/, '') === b.pathname.replace(/\/$/, '');
}

function createDriver(parts: DriverParts): FullBridge {
  const { issuer, config, sandbox, sandboxUrl } = parts;
  const rps = new Map<string, Promise<client.Configuration>>();
  const authorizeEndpoint = new URL(`${sandboxUrl}/oauth2/auth`);
  const clientOf = (clientId: string) => {
    const c = config.clients.find((x) => x.client_id === clientId);
    if (!c) throw new Error(`no client ${clientId} in the test config`);
    return c;
  };

  function rp(clientId: string): Promise<client.Configuration> {
    let found = rps.get(clientId);
    if (!found) {
      const c = clientOf(clientId);
      const auth = c.client_secret ? client.ClientSecretBasic(c.client_secret) : client.None();
      found = client.discovery(new URL(issuer), clientId, undefined, auth, {
        execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks, sendExactRedirectUri],
      });
      rps.set(clientId, found);
    }
    return found;
  }

  async function finishLogin(pending: PendingLogin, callbackUrl: URL, browser = pending.browser): Promise<LoginResult> {
    const target = new URL(pending.redirectUri);
    const { url, response } = await browser.follow(callbackUrl, (u) => sameTarget(u, target));
    return resultOf(pending, browser, url, response, { upstreamLeg: true, callbackUrl });
  }

  async function resultOf(pending: PendingLogin, browser: Browser, url: URL, response: Response,
    extra: { upstreamLeg: boolean; callbackUrl?: URL }): Promise<LoginResult> {
    const base = {
      clientId: pending.clientId, browser, redirectUri: pending.redirectUri, ...extra,
      checks: { state: pending.state, ...(pending.nonce ? { nonce: pending.nonce } : {}), ...(pending.codeVerifier ? { codeVerifier: pending.codeVerifier } : {}) },
    };
    if (sameTarget(url, new URL(pending.redirectUri))) {
      const code = url.searchParams.get('code') ?? undefined;
      const state = url.searchParams.get('state') ?? undefined;
      return { ...base, redirect: url, ...(code ? { code } : {}), ...(state ? { state } : {}) };
    }
    return { ...base, page: { status: response.status, url: url.href, html: await response.text() } };
  }

  async function startLogin(clientId: string, options: LoginOptions = {}): Promise<PendingLogin> {
    const c = clientOf(clientId);
    const isPublic = c.token_endpoint_auth_method === 'none';
    const isKubeSphere = clientId === 'kubesphere';
    const browser = options.browser ?? new Browser();
    const redirectUri = options.redirectUri ?? c.redirect_uris[0]!;
    const state = options.state ?? (isKubeSphere ? KUBESPHERE_STATE : client.randomState());
    const nonce = options.nonce === false ? undefined : options.nonce ?? (isKubeSphere ? undefined : client.randomNonce());
    const params: Record<string, string> = {
      redirect_uri: redirectUri, scope: options.scope ?? 'openid profile email phone groups', state,
      ...(nonce ? { nonce } : {}), ...options.extra,
    };
    let codeVerifier: string | undefined;
    if (options.pkce ?? isPublic) {
      codeVerifier = client.randomPKCECodeVerifier();
      params.code_challenge = await client.calculatePKCECodeChallenge(codeVerifier);
      params.code_challenge_method = 'S256';
    }
    const pending: PendingLogin = {
      clientId, browser, redirectUri, state, ...(nonce ? { nonce } : {}), ...(codeVerifier ? { codeVerifier } : {}),
    };
    return towardsUpstream(pending, client.buildAuthorizationUrl(await rp(clientId), params));
  }

  /** Follows `from` until the sandbox login page (an upstream leg) or the end of the login. */
  async function towardsUpstream(pending: PendingLogin, from: URL): Promise<PendingLogin> {
    const target = new URL(pending.redirectUri);
    const { url, response } = await pending.browser.follow(from, (u) => sameTarget(u, target) || sameTarget(u, authorizeEndpoint));
    if (sameTarget(url, authorizeEndpoint)) return { ...pending, upstreamUrl: url };
    return { ...pending, done: await resultOf(pending, pending.browser, url, response, { upstreamLeg: false }) };
  }

  function retry(failed: LoginResult): Promise<PendingLogin> {
    const href = failed.page ? pageFacts(failed.page.html).retryHref : undefined;
    if (!failed.page || !href) throw new Error('the login did not end on a page with a retry link');
    const { checks } = failed;
    const pending: PendingLogin = {
      clientId: failed.clientId, browser: failed.browser, redirectUri: failed.redirectUri, state: checks.state,
      ...(checks.nonce ? { nonce: checks.nonce } : {}), ...(checks.codeVerifier ? { codeVerifier: checks.codeVerifier } : {}),
    };
    return towardsUpstream(pending, new URL(href, failed.page.url));
  }

  async function chooseAtSandbox(pending: PendingLogin, userid: string): Promise<URL> {
    if (!pending.upstreamUrl) throw new Error('this login never reached the sandbox');
    const page = await pending.browser.fetch(pending.upstreamUrl);
    const html = await page.text();
    if (page.status !== 200) throw new Error(`sandbox login page answered ${page.status}`);
    const { hidden, userids, action } = parseSandboxPage(html);
    if (!userids.includes(userid)) throw new Error(`the sandbox login page does not offer ${userid}`);
    const form = new URLSearchParams(hidden);
    form.set('userid', userid);
    const back = await pending.browser.fetch(new URL(action, pending.upstreamUrl), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(),
    });
    await back.arrayBuffer();
    const location = back.headers.get('location');
    if (back.status !== 302 || !location) throw new Error(`sandbox form answered ${back.status}`);
    return new URL(location);
  }

  /** The callback as if DingTalk had issued a code for the person (no form). */
  function issuedCallback(pending: PendingLogin, userid: string, codeOptions: NonNullable<LoginOptions['issuedCode']>): URL {
    const authorize = pending.upstreamUrl!;
    const callback = new URL(authorize.searchParams.get('redirect_uri')!);
    const appKey = authorize.searchParams.get('client_id')!;
    callback.searchParams.set('authCode', sandbox.issueAuthCode(appKey, userid, codeOptions));
    callback.searchParams.set('state', authorize.searchParams.get('state')!);
    return callback;
  }

  return {
    issuer,
    bridge: parts.replicas[0]!,
    replicas: parts.replicas,
    served: parts.served,
    config,
    sandbox,
    sandboxUrl,
    logs: parts.logs,
    keyPrefix: parts.keyPrefix,
    rp,
    startLogin,
    retry,
    chooseAtSandbox,
    finishLogin,
    async loginAs(userid, clientId, options = {}) {
      const pending = await startLogin(clientId, options);
      if (pending.done) return pending.done;
      const callback = options.issuedCode ? issuedCallback(pending, userid, options.issuedCode) : await chooseAtSandbox(pending, userid);
      return finishLogin(pending, callback);
    },
    async tokens(login) {
      if (!login.redirect) throw new Error(`the login did not reach the client: ${login.page?.status} ${login.page?.url}`);
      exactRedirectUris.set(new URL(login.redirectUri).href, login.redirectUri);
      return client.authorizationCodeGrant(await rp(login.clientId), login.redirect, {
        expectedState: login.checks.state,
        ...(login.checks.nonce ? { expectedNonce: login.checks.nonce } : {}),
        ...(login.checks.codeVerifier ? { pkceCodeVerifier: login.checks.codeVerifier } : {}),
      });
    },
    close: parts.close,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the bridge's pages

const zhMessages = JSON.parse(readFileSync(new URL('../../views/locales/zh-CN.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** A zh-CN message (the default locale) with `{name}` parameters filled in, e.g. message('errors.notAllowed.title'). */
export function message(key: string, params: Record<string, string> = {}): string {
  const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], zhMessages);
  if (typeof value !== 'string') throw new Error(`no message ${key}`);
  return value.replace(/\{(\w+)\}/g, (m, name: string) => params[name] ?? m);
}

export interface PageFacts {
  title?: string;
  /** The code in the page's details block (DingTalk's errcode or v1.0 code). */
  code?: string;
  /** The reference number shown in the footer (the request id of the log lines). */
  requestId?: string;
  retryHref?: string;
  abortAction?: string;
}

export function pageFacts(html: string): PageFacts {
  const pick = (re: RegExp) => { const m = re.exec(html)?.[1]; return m === undefined ? undefined : decodeEntities(m); };
  const facts: PageFacts = {};
  const title = pick(/<h1 class="title" id="page-title">([^<]*)<\/h1>/);
  const detail = pick(/<p class="details__code">([^<]*)<\/p>/);
  const requestId = pick(/class="footer__ref">[^<]*?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/);
  const retryHref = pick(/<a class="button[^"]*" href="([^"]+)">/);
  const abortAction = pick(/<form method="post" action="([^"]*\/abort)">/);
  if (title !== undefined) facts.title = title;
  if (detail !== undefined) facts.code = detail.replace(/^[^：:]*[：:]\s*/, '');
  if (requestId !== undefined) facts.requestId = requestId;
  if (retryHref !== undefined) facts.retryHref = retryHref;
  if (abortAction !== undefined) facts.abortAction = abortAction;
  return facts;
}

/** Secrets every test bridge knows: none may appear in a page or a log line. */
export const KNOWN_SECRETS = [SANDBOX_APP_SECRET, KUBESPHERE_SECRET, COOKIE_SECRET];

/** Which of `secrets` occur in `text` (shown by their first characters only). */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => s.length >= 6 && text.includes(s)).map((s) => `${s.slice(0, 3)}…`);
}

/** A JavaScript stack frame (`at fn (file:line:col)`), which no page may show. */
export function hasStackTrace(html: string): boolean {
  return /\bat (?:async )?[\w.<>$]+ \([^)]*:\d+:\d+\)/.test(html) || /\n\s+at [^\n]*:\d+:\d+/.test(html);
}
