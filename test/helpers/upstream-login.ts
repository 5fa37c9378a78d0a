/**
 * Signing in through the upstream doubles (test/doubles: the fake IDaaS, EIAM 1.0 `oauth2` +
 * `preset: aliyun-idaas`, and fake OIDC issuers) on a bridge started with
 * `startBridge({ upstream: 'doubles' })` (test/helpers/bridge.ts): the doubles and their upstream
 * configs, the clients such a bridge serves, and the relying party's side (openid-client 6 with
 * the fetch browser of test/helpers/http-browser.ts): login, code exchange, logout, and what
 * KubeSphere needs of the tokens.
 */
import assert from 'node:assert/strict';
import { decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { startFakeIdaas, type FakeIdaas, type FakeIdaasOptions } from '../doubles/fake-idaas.js';
import { startFakeOidcIssuer, type FakeOidcIssuer, type FakeOidcOptions } from '../doubles/fake-oidc-issuer.js';
import { Browser } from './http-browser.js';
import { leakedSecrets } from './leaks.js';
import { authorizationRequest } from './oidc-rp.js';
import { chooserOptions, hasStackTrace, type ChooserOption } from './pages.js';

export type StoreKind = 'memory' | 'redis';
export const STORES: readonly StoreKind[] = ['memory', 'redis'];

export const KS_ORIGIN = 'https://ks.example.test';
export const RP_ORIGIN = 'https://rp.example.test';

/** Kubernetes label value (KubeSphere 3.x stores `sub` in a label). */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Lowercase DNS-1123 subdomain: KubeSphere user names. */
export const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// ---------------------------------------------------------------------------------------------
// Upstream doubles

export interface Doubles {
  idaas: FakeIdaas;
  /** A plain OIDC issuer at the server root. */
  oidc: FakeOidcIssuer;
  /** An OIDC issuer with an IDaaS EIAM 2.0 style path (`/v2/<instance>/<app>/oidc`). */
  eiam: FakeOidcIssuer;
  close(): Promise<void>;
}

export const EIAM_ISSUER_PATH = '/v2/idaas_x7y2/app_m3k9/oidc';

export const EIAM_USER = {
  sub: 'user_01hzx9k3m2v7q8r4t6y0w1e5bn',
  name: '王芳',
  email: 'wangfang@example.test',
  email_verified: true,
  preferred_username: 'Wang_Fang',
  groups: ['研发中心'],
};

export interface DoublesOptions {
  idaas?: FakeIdaasOptions;
  oidc?: FakeOidcOptions;
  eiam?: FakeOidcOptions;
}

export async function startDoubles(options: DoublesOptions = {}): Promise<Doubles> {
  const [idaas, oidc, eiam] = await Promise.all([
    startFakeIdaas(options.idaas),
    startFakeOidcIssuer(options.oidc),
    startFakeOidcIssuer({
      issuerPath: EIAM_ISSUER_PATH,
      clientId: 'eiam-client',
      clientSecret: 'eiam-secret',
      user: EIAM_USER,
      requirePkce: true,
      ...options.eiam,
    }),
  ]);
  return {
    idaas,
    oidc,
    eiam,
    close: async () => {
      await Promise.all([idaas.close(), oidc.close(), eiam.close()]);
    },
  };
}

export const DISPLAY_NAMES = {
  idaas: { 'zh-CN': '阿里云 IDaaS', en: 'Aliyun IDaaS' },
  oidc: { 'zh-CN': '企业统一身份', en: 'Corporate SSO' },
  eiam: { 'zh-CN': 'IDaaS 新版', en: 'IDaaS EIAM 2.0' },
} as const;

export type UpstreamId = keyof typeof DISPLAY_NAMES;
export const UPSTREAM_IDS: readonly UpstreamId[] = ['idaas', 'oidc', 'eiam'];

/** The three upstreams as an operator configures them. `extra` is merged into each (e.g. timeoutMs). */
export function upstreamConfigs(d: Doubles, extra: Partial<Record<UpstreamId, Record<string, unknown>>> = {}): unknown[] {
  return [
    {
      id: 'idaas',
      type: 'oauth2',
      preset: 'aliyun-idaas',
      displayName: DISPLAY_NAMES.idaas,
      baseURL: d.idaas.url,
      clientId: d.idaas.clientId,
      clientSecret: d.idaas.clientSecret,
      ...extra.idaas,
    },
    {
      id: 'oidc',
      type: 'oidc',
      displayName: DISPLAY_NAMES.oidc,
      issuer: d.oidc.issuer,
      clientId: d.oidc.clientId,
      clientSecret: d.oidc.clientSecret,
      ...extra.oidc,
    },
    {
      id: 'eiam',
      type: 'oidc',
      displayName: DISPLAY_NAMES.eiam,
      issuer: d.eiam.issuer,
      clientId: d.eiam.clientId,
      clientSecret: d.eiam.clientSecret,
      clientAuth: 'client_secret_post',
      ...extra.eiam,
    },
  ];
}

/** The doubles accept only registered redirect URIs, as real upstreams do: register the bridge's callback with each. */
export function registerCallbacks(d: Doubles, issuer: string): void {
  for (const id of UPSTREAM_IDS) d[id].addRedirectUri(`${issuer}/upstream/${id}/callback`);
}

/** The authorize requests a double received (to tell whether a login went upstream again). */
export function authorizeCount(d: Doubles, id: UpstreamId): number {
  return d[id].requests.authorize.length;
}

// ---------------------------------------------------------------------------------------------
// Clients

export const secretOf = (clientId: string) => `${clientId}-secret-0123456789`;
export const webRedirect = (id: string) => `${RP_ORIGIN}/cb/${id}`;
export const webLogoutRedirect = (id: string) => `${RP_ORIGIN}/bye/${id}`;
export const ksRedirect = (id: string) => `${KS_ORIGIN}/oauth/redirect/${id}`;
export const KUBECTL_REDIRECTS = ['http://localhost:8000', 'http://127.0.0.1:18000'] as const;

/**
 * Per upstream X: `web-X` (confidential, offers X and one other upstream: the chooser),
 * `ks-X` (KubeSphere: confidential, only X, no PKCE, no nonce, state = X); and one `kubectl`
 * (public, native, PKCE, loopback redirects, every upstream).
 */
export function standardClients(): unknown[] {
  const other: Record<UpstreamId, UpstreamId> = { idaas: 'oidc', oidc: 'idaas', eiam: 'idaas' };
  return [
    ...UPSTREAM_IDS.flatMap((id) => [
      {
        client_id: `web-${id}`,
        client_secret: secretOf(`web-${id}`),
        client_name: `Portal ${id}`,
        redirect_uris: [webRedirect(id)],
        post_logout_redirect_uris: [webLogoutRedirect(id)],
        grant_types: ['authorization_code', 'refresh_token'],
        skipConsent: true,
        upstreams: [id, other[id]],
        emitEmail: 'any',
      },
      {
        client_id: `ks-${id}`,
        client_secret: secretOf(`ks-${id}`),
        client_name: 'KubeSphere',
        // KubeSphere 3.x authenticates with the secret in the body or in Basic, depending on its OIDC provider config.
        token_endpoint_auth_method: id === 'oidc' ? 'client_secret_post' : 'client_secret_basic',
        redirect_uris: [ksRedirect(id)],
        post_logout_redirect_uris: [`${KS_ORIGIN}/`],
        grant_types: ['authorization_code', 'refresh_token'],
        skipConsent: true,
        upstreams: [id],
      },
    ]),
    {
      client_id: 'kubectl',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      redirect_uris: [...KUBECTL_REDIRECTS],
      grant_types: ['authorization_code', 'refresh_token'],
      skipConsent: true,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// The relying party (openid-client 6)

export type ClientAuth = 'basic' | 'post' | 'none';

export async function relyingParty(issuer: string, clientId: string, auth: ClientAuth): Promise<client.Configuration> {
  const authentication =
    auth === 'none'
      ? client.None()
      : auth === 'post'
        ? client.ClientSecretPost(secretOf(clientId))
        : client.ClientSecretBasic(secretOf(clientId));
  const rp = await client.discovery(new URL(issuer), clientId, undefined, authentication, { execute: [client.allowInsecureRequests] });
  // openid-client checks ID token signatures against the issuer's JWKS only when asked to.
  client.enableNonRepudiationChecks(rp);
  return rp;
}

export interface LoginOptions {
  redirectUri: string;
  scope?: string;
  /** Default: a random one. KubeSphere sends the IdP name. */
  state?: string;
  /** Default: a random nonce; false sends none (KubeSphere). */
  nonce?: string | false;
  pkce?: boolean;
  extra?: Record<string, string>;
  browser?: Browser;
  /** When the chooser shows, the upstream whose link to follow; the chooser is then recorded. */
  pick?: string;
}

export interface LoginLeg {
  browser: Browser;
  /** Where the bridge finally sent the browser (the RP's redirect URI with code or error). */
  callback: URL;
  state: string;
  nonce?: string;
  codeVerifier?: string;
  /** The chooser options, when a chooser page was shown. */
  chooser?: ChooserOption[];
  /** The last response when it was not a redirect to the RP (an error page): status and HTML. */
  page?: { status: number; url: URL; html: string };
}

/** The front channel: /auth → (chooser →) upstream → callback → … → the RP's redirect URI (never fetched). */
export async function login(rp: client.Configuration, options: LoginOptions): Promise<LoginLeg> {
  const browser = options.browser ?? new Browser();
  const { url: authorizationUrl, ...checks } = await authorizationRequest(rp, {
    ...options,
    scope: options.scope ?? 'openid profile email',
  });
  const stopAt = (u: URL) => u.href.startsWith(options.redirectUri);
  let { url, response } = await browser.follow(authorizationUrl, stopAt);
  const leg: LoginLeg = { browser, callback: url, ...checks };
  if (stopAt(url)) return leg;
  let html = await response.text();
  const offered = chooserOptions(html);
  if (response.status === 200 && offered.length > 0 && options.pick) {
    leg.chooser = offered;
    const chosen = offered.find((o) => o.id === options.pick);
    assert.ok(chosen, `the chooser offers ${options.pick}: ${offered.map((o) => o.id).join(', ')}`);
    ({ url, response } = await browser.follow(new URL(chosen.href, url), stopAt));
    leg.callback = url;
    if (stopAt(url)) return leg;
    html = await response.text();
  }
  leg.page = { status: response.status, url, html };
  return leg;
}

/** What a code exchange needs of a login. */
export type Landed = Pick<LoginLeg, 'callback' | 'state' | 'nonce' | 'codeVerifier' | 'page'>;

/** Asserts the leg ended at the RP with a code and the RP's state. */
export function codeOf(leg: Landed): string {
  assert.equal(
    leg.page,
    undefined,
    `login ended on a page instead of the RP: ${leg.page?.status} ${leg.page?.url.href}\n${leg.page?.html.slice(0, 400)}`,
  );
  assert.equal(
    leg.callback.searchParams.get('error'),
    null,
    `error at the RP: ${leg.callback.searchParams.get('error')} ${leg.callback.searchParams.get('error_description')}`,
  );
  assert.equal(leg.callback.searchParams.get('state'), leg.state);
  const code = leg.callback.searchParams.get('code');
  assert.ok(code, 'a code reaches the RP');
  return code;
}

/** The code exchange as an RP does it: openid-client checks state, nonce (or its absence), PKCE and the ID token. */
export async function exchange(rp: client.Configuration, leg: Landed) {
  codeOf(leg);
  return client.authorizationCodeGrant(rp, leg.callback, {
    expectedState: leg.state,
    ...(leg.nonce ? { expectedNonce: leg.nonce } : {}),
    ...(leg.codeVerifier ? { pkceCodeVerifier: leg.codeVerifier } : {}),
    idTokenExpected: true,
  });
}

/**
 * kubelogin's exchange: it sends its configured redirect URI verbatim (`http://localhost:8000`),
 * which openid-client's authorizationCodeGrant would normalise to `http://localhost:8000/` (a
 * different string, refused as RFC 6749 4.1.3 requires). openid-client's generic grant sends it
 * as given and still validates the ID token; the nonce is checked here.
 */
export async function exchangeVerbatim(rp: client.Configuration, leg: Landed, redirectUri: string) {
  const code = codeOf(leg);
  const tokens = await client.genericGrantRequest(rp, 'authorization_code', {
    code,
    redirect_uri: redirectUri,
    ...(leg.codeVerifier ? { code_verifier: leg.codeVerifier } : {}),
  });
  assert.equal(tokens.claims()?.nonce, leg.nonce, "the ID token carries this login's nonce");
  return tokens;
}

/** RS256 header with a kid that the issuer's JWKS publishes. */
export async function assertRs256WithPublishedKid(rp: client.Configuration, idToken: string): Promise<void> {
  const header = decodeProtectedHeader(idToken);
  assert.equal(header.alg, 'RS256');
  assert.ok(header.kid, 'the ID token names its key');
  const jwksUri = rp.serverMetadata().jwks_uri;
  assert.ok(jwksUri);
  const jwks = (await (await fetch(jwksUri)).json()) as { keys: { kid?: string; alg?: string; d?: unknown }[] };
  const key = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(key, `kid ${header.kid} is in ${jwksUri}`);
  assert.equal(key.alg, 'RS256');
  assert.ok(
    jwks.keys.every((k) => k.d === undefined),
    'the JWKS publishes no private key material',
  );
}

/** What KubeSphere 3.x needs of the claims. */
export function assertKubeSphereClaims(claims: Record<string, unknown>): void {
  const sub = String(claims.sub);
  assert.ok(sub.length > 0 && sub.length <= 63, `sub ${sub} is at most 63 characters`);
  assert.match(sub, LABEL_VALUE);
  const username = claims.preferred_username;
  assert.equal(typeof username, 'string', 'preferred_username is present');
  assert.ok((username as string).length <= 32, `${String(username)} is at most 32 characters`);
  assert.match(username as string, DNS_1123);
}

// ---------------------------------------------------------------------------------------------
// Pages

/** An error page shows neither a stack trace nor any of `secrets` (codes, states, client secrets, tokens) in any form. */
export function assertSafePage(html: string, secrets: (string | undefined | null)[] = []): void {
  assert.ok(!hasStackTrace(html), 'no stack trace');
  assert.doesNotMatch(html, /\b(TypeError|ReferenceError|UpstreamError|LegStateError|InternalOAuthError)\b/, 'no internal error name');
  assert.doesNotMatch(html, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/, 'no JWT');
  assert.deepEqual(leakedSecrets(html, secrets), [], 'the page shows no secret');
}

/** RP-initiated logout as a browser does it: GET end_session → confirmation page → POST its form (sign out). */
export async function logout(
  browser: Browser,
  rp: client.Configuration,
  params: { idTokenHint: string; postLogoutRedirectUri: string; state: string },
): Promise<URL> {
  const endSession = client.buildEndSessionUrl(rp, {
    id_token_hint: params.idTokenHint,
    post_logout_redirect_uri: params.postLogoutRedirectUri,
    state: params.state,
  });
  const page = await browser.fetch(endSession);
  assert.equal(page.status, 200);
  const html = await page.text();
  const form = /<form[^>]*\baction="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  assert.ok(form, 'the confirmation page has a form');
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"/g)) fields.set(input[1]!, input[2]!);
  assert.ok(fields.get('xsrf'), 'the form carries an xsrf token');
  assert.match(html, /name="logout" value="yes"/, 'a "sign out" button submits logout=yes');
  fields.set('logout', 'yes');
  const action = new URL(form[1]!.replace(/&amp;/g, '&'), endSession);
  const { url } = await browser.follow(action, (u) => u.href.startsWith(params.postLogoutRedirectUri), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
  });
  return url;
}
