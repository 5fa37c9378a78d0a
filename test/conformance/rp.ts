/**
 * A relying party written against the specifications rather than a library, as the OpenID
 * Foundation suite is: raw authorization requests (GET or POST), a browser that stops at the
 * client's redirect URI, raw token and userinfo requests, and ID token validation by the rules of
 * OIDC Core 1.0 §3.1.3.7 with jose against the OP's jwks_uri.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { Browser } from '../helpers/http-browser.js';
import { REDIRECT, RP, secretOf, type Op } from './op.js';

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
  [key: string]: unknown;
}

const discoveries = new WeakMap<Op, Promise<Discovery>>();

/** The OP's discovery document (fetched once per OP). */
export function discover(op: Op): Promise<Discovery> {
  let found = discoveries.get(op);
  if (!found) {
    found = fetch(`${op.issuer}/.well-known/openid-configuration`).then(async (res) => {
      assert.equal(res.status, 200, 'discovery answers 200');
      return (await res.json()) as Discovery;
    });
    discoveries.set(op, found);
  }
  return found;
}

export const random = () => randomBytes(16).toString('base64url');
export const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** The helper Browser with a browser's Accept header: oidc-provider answers API clients with JSON and browsers (text/html) with its HTML pages. */
export class HtmlBrowser extends Browser {
  /** `acceptLanguage` goes with every request, as a browser's language setting does. */
  constructor(private readonly acceptLanguage?: string) {
    super();
  }

  override fetch(target: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    if (this.acceptLanguage && !headers.has('accept-language')) headers.set('accept-language', this.acceptLanguage);
    return super.fetch(target, { ...init, headers });
  }
}

/** Where a front-channel leg ended: at the client (redirect URI with its query) or on a page. */
export interface Landing {
  browser: Browser;
  /** The redirect to the client, never fetched. */
  callback?: URL;
  /** The page the browser stopped on instead. */
  page?: { status: number; url: string; html: string };
}

/** Follows redirects from `target` until one leads to the client (any URL on the RP origin) or a page. */
export async function frontChannel(target: URL, init: RequestInit = {}, browser: Browser = new HtmlBrowser()): Promise<Landing> {
  const { url, response } = await browser.follow(target, (u) => u.origin === RP, init);
  if (url.origin === RP) return { browser, callback: url };
  return { browser, page: { status: response.status, url: url.href, html: await response.text() } };
}

export interface AuthRequest {
  clientId: string;
  /** Parameters over the defaults (response_type code, scope openid, redirect_uri, state, nonce); undefined removes one. */
  params?: Record<string, string | undefined>;
  /** Send it as an application/x-www-form-urlencoded POST (OIDC Core §3.1.2.1). */
  post?: boolean;
  browser?: Browser;
}

export interface Authorized extends Landing {
  params: Record<string, string>;
  /** The code, when the leg reached the client with one. */
  code?: string;
}

export function authParams(request: AuthRequest): Record<string, string> {
  const merged: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: request.clientId,
    scope: 'openid',
    redirect_uri: REDIRECT,
    state: random(),
    nonce: random(),
    ...request.params,
  };
  return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
}

/** One authorization request through the whole front channel. */
export async function authorize(op: Op, request: AuthRequest): Promise<Authorized> {
  const { authorization_endpoint: endpoint } = await discover(op);
  const params = authParams(request);
  const query = new URLSearchParams(params);
  const landing = request.post
    ? await frontChannel(
        new URL(endpoint),
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: query.toString(),
        },
        request.browser,
      )
    : await frontChannel(new URL(`${endpoint}?${query}`), {}, request.browser);
  const code = landing.callback?.searchParams.get('code') ?? undefined;
  return { ...landing, params, ...(code ? { code } : {}) };
}

/** Asserts the leg reached the client with a code, its state and the issuer (RFC 9207); returns the code. */
export function codeOf(op: Op, leg: Authorized): string {
  assert.equal(
    leg.page,
    undefined,
    `ended on a page, not at the client: ${leg.page?.status} ${leg.page?.url} ${leg.page?.html.slice(0, 300)}`,
  );
  const callback = leg.callback!;
  assert.equal(
    callback.searchParams.get('error'),
    null,
    `error at the client: ${callback.searchParams.get('error')} ${callback.searchParams.get('error_description')}`,
  );
  assert.equal(callback.searchParams.get('state'), leg.params.state ?? null, 'state comes back unchanged');
  assert.equal(callback.searchParams.get('iss'), op.issuer, 'iss comes back (RFC 9207)');
  assert.ok(leg.code, 'a code reaches the client');
  return leg.code;
}

export type ClientAuth = 'basic' | 'post' | 'none';

export const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** A raw form POST to the token endpoint with the client authenticated as `auth` says. */
export async function tokenRequest(
  op: Op,
  clientId: string,
  form: Record<string, string>,
  auth: ClientAuth = 'basic',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { token_endpoint: endpoint } = await discover(op);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(form);
  if (auth === 'basic') headers.authorization = basicAuth(clientId, secretOf(clientId));
  if (auth === 'post') {
    body.set('client_id', clientId);
    body.set('client_secret', secretOf(clientId));
  }
  if (auth === 'none') body.set('client_id', clientId);
  const res = await fetch(endpoint, { method: 'POST', headers, body: body.toString() });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  id_token: string;
  refresh_token?: string;
  expires_in: number;
  scope?: string;
}

/** The code exchange; asserts a 200 with the token response fields OIDC Core §3.1.3.3 requires. */
export async function redeem(op: Op, leg: Authorized, options: { auth?: ClientAuth; codeVerifier?: string } = {}): Promise<TokenSet> {
  const clientId = leg.params.client_id!;
  const form: Record<string, string> = { grant_type: 'authorization_code', code: codeOf(op, leg), redirect_uri: leg.params.redirect_uri! };
  if (options.codeVerifier) form.code_verifier = options.codeVerifier;
  const { status, body } = await tokenRequest(op, clientId, form, options.auth);
  assert.equal(status, 200, `token endpoint: ${JSON.stringify(body)}`);
  assert.equal(typeof body.access_token, 'string');
  assert.match(String(body.token_type), /^bearer$/i);
  assert.equal(typeof body.id_token, 'string', 'an ID token for the openid scope');
  return body as unknown as TokenSet;
}

/** Login + exchange for a client that offers only `corp`. */
export async function signIn(
  op: Op,
  request: AuthRequest,
  options: { auth?: ClientAuth } = {},
): Promise<{ leg: Authorized; tokens: TokenSet }> {
  const leg = await authorize(op, request);
  return { leg, tokens: await redeem(op, leg, options) };
}

const jwksSets = new WeakMap<Op, ReturnType<typeof createRemoteJWKSet>>();

/** Verifies a JWT's signature against the OP's jwks_uri (no claim checks). */
export async function verifyWithJwks(op: Op, jwt: string, algorithms = ['RS256']) {
  const { jwks_uri: jwksUri } = await discover(op);
  let jwks = jwksSets.get(op);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 0 });
    jwksSets.set(op, jwks);
  }
  return jwtVerify(jwt, jwks, { algorithms });
}

/** OIDC Core §3.1.3.7: signature (RS256 by default), iss, aud, azp, exp, iat, nonce. */
export async function validateIdToken(op: Op, idToken: string, expected: { clientId: string; nonce?: string }): Promise<JWTPayload> {
  const { payload, protectedHeader } = await verifyWithJwks(op, idToken);
  assert.equal(protectedHeader.alg, 'RS256');
  assert.ok(protectedHeader.kid, 'the ID token names its key');
  assert.equal(payload.iss, op.issuer, 'iss is the issuer exactly');
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  assert.ok(aud.includes(expected.clientId), 'aud contains the client_id');
  if (aud.length > 1) assert.equal(payload.azp, expected.clientId, 'azp with several audiences');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(typeof payload.exp === 'number' && payload.exp > now, 'exp is in the future');
  assert.ok(typeof payload.iat === 'number' && payload.iat <= now + 5, 'iat is present and not in the future');
  assert.equal(typeof payload.sub, 'string');
  assert.equal(payload.nonce, expected.nonce, "nonce is the request's (or absent when none was sent)");
  return payload;
}

/** Whole-second clocks (auth_time, max_age): waits until the clock is past `epochSeconds`. A wait for time, not readiness. */
export async function clockPast(epochSeconds: number): Promise<void> {
  const ms = (epochSeconds + 1) * 1000 - Date.now();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms + 5));
}

/** Whether `browser` went to the upstream's authorize endpoint after its `since`-th request (a new login, not session reuse). */
export function wentUpstream(op: Op, browser: Browser, since = 0): boolean {
  return browser.history.slice(since).some((hop) => hop.url.startsWith(op.upstream.endpoints.authorization));
}

export type UserinfoStyle = 'get' | 'post-header' | 'post-body';

/** The userinfo request in one of the three ways OIDC Core §5.3.1 and RFC 6750 §2.1–2.2 allow. */
export async function userinfo(
  op: Op,
  accessToken: string,
  style: UserinfoStyle = 'get',
): Promise<{ status: number; type: string; text: string }> {
  const { userinfo_endpoint: endpoint } = await discover(op);
  const bearer = { authorization: `Bearer ${accessToken}` };
  const res =
    style === 'get'
      ? await fetch(endpoint, { headers: bearer })
      : style === 'post-header'
        ? await fetch(endpoint, { method: 'POST', headers: bearer })
        : await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ access_token: accessToken }).toString(),
          });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** userinfo as JSON claims; asserts a 200 application/json answer. */
export async function userinfoClaims(op: Op, accessToken: string, style: UserinfoStyle = 'get'): Promise<Record<string, unknown>> {
  const answer = await userinfo(op, accessToken, style);
  assert.equal(answer.status, 200, `userinfo answered ${answer.status}: ${answer.text}`);
  assert.match(answer.type, /^application\/json/);
  return JSON.parse(answer.text) as Record<string, unknown>;
}

/** On the chooser page a leg stopped at, follows the option for `upstreamId` to the end of the front channel. */
export async function choose(leg: Authorized, upstreamId: string): Promise<Authorized> {
  assert.ok(leg.page, 'the leg stopped on the chooser page');
  const href = [...leg.page.html.matchAll(/<a class="option" href="([^"]+)"/g)]
    .map((m) => m[1]!)
    .find((h) => h.endsWith(`/upstream/${upstreamId}`));
  assert.ok(href, `the chooser offers ${upstreamId}`);
  const landing = await frontChannel(new URL(href, leg.page.url), {}, leg.browser);
  const code = landing.callback?.searchParams.get('code') ?? undefined;
  return { ...landing, params: leg.params, ...(code ? { code } : {}) };
}
