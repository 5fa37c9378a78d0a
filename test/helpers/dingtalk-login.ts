/**
 * Signing in through the DingTalk sandbox (src/sandbox) as a browser does, on a bridge started
 * with `startBridge({ upstream: 'dingtalk' })` (test/helpers/bridge.ts): /auth → interaction →
 * sandbox /oauth2/auth page → the person's choice → callback → bridge → the relying party's
 * redirect URI, with the fetch Browser of test/helpers/http-browser.ts; openid-client is the
 * relying party. Also the KubeSphere and kubectl clients such a bridge serves by default.
 */
import * as client from 'openid-client';
import type { z } from 'zod';
import type { Config, configSchema } from '../../src/config/schema.js';
import { SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID, type DingTalkSandbox } from '../../src/sandbox/index.js';
import { Browser } from './http-browser.js';
import { authorizationRequest } from './oidc-rp.js';
import { pageFacts, unescapeHtml } from './pages.js';

type ConfigInput = z.input<typeof configSchema>;
type ClientInput = ConfigInput['clients'][number];

export const KUBESPHERE_SECRET = 'kubesphere-client-secret-0123456789';
/** KubeSphere 3.x sends the identity provider's name as a constant `state`. */
export const KUBESPHERE_STATE = 'dingtalk';
export const KUBESPHERE_REDIRECT = 'https://ks.example.test/oauth/redirect/dingtalk';
export const KUBECTL_REDIRECT = 'http://localhost:8000';
/** What kubectl's groups begin with: the dingtalk upstream's groups namespace (its default `groupsPrefix`, `<id>:`). */
export const KUBECTL_GROUPS_PREFIX = 'dingtalk:';

/** KubeSphere-style: confidential (client_secret_basic), no PKCE, no nonce, constant state, skipConsent. */
export function kubesphereClient(redirectUri = KUBESPHERE_REDIRECT): ClientInput {
  return {
    client_id: 'kubesphere',
    client_secret: KUBESPHERE_SECRET,
    client_name: 'KubeSphere',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true,
    upstreams: ['dingtalk'],
    emitEmail: 'verified',
  };
}

/** kubelogin-style: public, native (loopback redirect, any port), PKCE, groups capped. */
export function kubectlClient(): ClientInput {
  return {
    client_id: 'kubectl',
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    redirect_uris: [KUBECTL_REDIRECT, 'http://localhost:18000'],
    grant_types: ['authorization_code', 'refresh_token'],
    skipConsent: true,
    groups: { max: 50 },
  };
}

/** The dingtalk upstream against a sandbox at `sandboxUrl`; `overrides` replace keys (clientId, timeoutMs …). */
export function dingtalkUpstream(sandboxUrl: string, overrides: Record<string, unknown> = {}): ConfigInput['upstreams'][number] {
  return {
    id: 'dingtalk',
    type: 'dingtalk',
    displayName: { 'zh-CN': '钉钉', en: 'DingTalk' },
    clientId: SANDBOX_APP_KEY,
    clientSecret: SANDBOX_APP_SECRET,
    corpId: SANDBOX_CORP_ID,
    endpoints: { authorize: `${sandboxUrl}/oauth2/auth`, api: sandboxUrl, oapi: sandboxUrl },
    ...overrides,
  };
}

/** Secrets a DingTalk test bridge knows besides the cookie secret: none may appear in a page or a log line. */
export const DINGTALK_SECRETS = [SANDBOX_APP_SECRET, KUBESPHERE_SECRET];

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

/** What `startBridge({ upstream: 'dingtalk' })` adds to the bridge. */
export interface DingTalkDriver {
  sandbox: DingTalkSandbox;
  sandboxUrl: string;
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
}

/** The sandbox login page's hidden fields and the userids it offers. */
function parseSandboxPage(html: string): { hidden: [string, string][]; userids: string[]; action: string } {
  const hidden = [...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m): [string, string] => [
    unescapeHtml(m[1]!),
    unescapeHtml(m[2]!),
  ]);
  const userids = [...html.matchAll(/<button type="submit" name="userid" value="([^"]*)">/g)].map((m) => unescapeHtml(m[1]!));
  const action = unescapeHtml(/<form method="post" action="([^"]*)">/.exec(html)?.[1] ?? '');
  return { hidden, userids, action };
}

/**
 * openid-client derives the token request's redirect_uri from the callback URL, which URL parsing
 * normalises (`http://localhost:8000` → `http://localhost:8000/`); oidc-provider compares it with the
 * authorization request's byte for byte. kubelogin sends the exact string both times: so do we
 * (the openid-client docs' own customFetch recipe).
 */
function sendExactRedirectUri(exactRedirectUris: ReadonlyMap<string, string>) {
  return (config: client.Configuration): void => {
    config[client.customFetch] = (url, options) => {
      const body = options.body;
      if (body instanceof URLSearchParams && body.get('grant_type') === 'authorization_code') {
        const sent = body.get('redirect_uri');
        const exact = sent === null ? undefined : exactRedirectUris.get(sent);
        if (exact) body.set('redirect_uri', exact);
      }
      return fetch(url, options);
    };
  };
}

function sameTarget(a: URL, b: URL): boolean {
  return a.origin === b.origin && a.pathname.replace(/\/$/, '') === b.pathname.replace(/\/$/, '');
}

export function dingtalkDriver(
  bridge: { issuer: string; config: Config },
  parts: { sandbox: DingTalkSandbox; sandboxUrl: string },
): DingTalkDriver {
  const { issuer, config } = bridge;
  const { sandbox, sandboxUrl } = parts;
  /** Exact redirect URIs by their WHATWG-normalised form (see sendExactRedirectUri). */
  const exactRedirectUris = new Map<string, string>();
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
        execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks, sendExactRedirectUri(exactRedirectUris)],
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

  async function resultOf(
    pending: PendingLogin,
    browser: Browser,
    url: URL,
    response: Response,
    extra: { upstreamLeg: boolean; callbackUrl?: URL },
  ): Promise<LoginResult> {
    const base = {
      clientId: pending.clientId,
      browser,
      redirectUri: pending.redirectUri,
      ...extra,
      checks: {
        state: pending.state,
        ...(pending.nonce ? { nonce: pending.nonce } : {}),
        ...(pending.codeVerifier ? { codeVerifier: pending.codeVerifier } : {}),
      },
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
    const redirectUri = options.redirectUri ?? c.redirect_uris?.[0];
    if (!redirectUri) throw new Error(`client ${clientId} has no redirect URI (a device-only client signs in through the device flow)`);
    const { url, ...checks } = await authorizationRequest(await rp(clientId), {
      redirectUri,
      scope: options.scope ?? 'openid profile email phone groups',
      extra: options.extra,
      state: options.state ?? (isKubeSphere ? KUBESPHERE_STATE : undefined),
      nonce: options.nonce ?? (isKubeSphere ? false : undefined),
      pkce: options.pkce ?? isPublic,
    });
    return towardsUpstream({ clientId, browser, redirectUri, ...checks }, url);
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
      clientId: failed.clientId,
      browser: failed.browser,
      redirectUri: failed.redirectUri,
      state: checks.state,
      ...(checks.nonce ? { nonce: checks.nonce } : {}),
      ...(checks.codeVerifier ? { codeVerifier: checks.codeVerifier } : {}),
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
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
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
    sandbox,
    sandboxUrl,
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
  };
}
