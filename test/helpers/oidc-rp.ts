/**
 * openid-client 6 as the relying party of a test bridge, with the browser leg driven by
 * test/helpers/http-browser.ts: the authorization request every driver builds (this file's
 * authorize for the upstream-less bridge, test/helpers/dingtalk-login.ts, test/helpers/upstream-login.ts),
 * the front channel through the auto-login router, and raw token endpoint requests.
 */
import * as client from 'openid-client';
import type { Bridge } from './bridge.js';
import { Browser } from './http-browser.js';

export const KUBESPHERE_STATE = 'kubesphere'; // KubeSphere 3.x sends this constant state

/** Discovery + client configuration; plain http is allowed because the test issuer is http. */
export async function rpFor(bridge: Bridge, clientId: string, options: { secret?: string; auth?: 'basic' | 'post' | 'none' } = {}) {
  const auth = options.auth ?? (options.secret === undefined ? 'none' : 'basic');
  const authentication =
    auth === 'none' ? client.None() : auth === 'post' ? client.ClientSecretPost(options.secret) : client.ClientSecretBasic(options.secret);
  return client.discovery(new URL(bridge.issuer), clientId, undefined, authentication, { execute: [client.allowInsecureRequests] });
}

export interface AuthorizeOptions {
  redirectUri: string;
  scope?: string;
  pkce?: boolean;
  state?: string;
  nonce?: string;
  extra?: Record<string, string>;
  browser?: Browser;
  /** Send the authorization request as a form POST instead of GET. */
  post?: boolean;
}

export interface Authorized {
  callback: URL;
  browser: Browser;
  state: string;
  nonce: string;
  codeVerifier?: string;
}

export interface AuthorizationRequestOptions {
  redirectUri: string;
  scope: string;
  /** Default: a random one. */
  state?: string | undefined;
  /** Default: a random one; false sends none (KubeSphere). */
  nonce?: string | false | undefined;
  /** PKCE with S256. */
  pkce?: boolean | undefined;
  extra?: Record<string, string> | undefined;
}

export interface AuthorizationRequest {
  url: URL;
  state: string;
  nonce?: string;
  codeVerifier?: string;
}

/** An authorization request URL as a relying party builds it, with what the code exchange must check. */
export async function authorizationRequest(rp: client.Configuration, options: AuthorizationRequestOptions): Promise<AuthorizationRequest> {
  const state = options.state ?? client.randomState();
  const nonce = options.nonce === false ? undefined : (options.nonce ?? client.randomNonce());
  const params: Record<string, string> = { redirect_uri: options.redirectUri, scope: options.scope, state, ...(nonce ? { nonce } : {}) };
  let codeVerifier: string | undefined;
  if (options.pkce) {
    codeVerifier = client.randomPKCECodeVerifier();
    params.code_challenge = await client.calculatePKCECodeChallenge(codeVerifier);
    params.code_challenge_method = 'S256';
  }
  Object.assign(params, options.extra);
  return { url: client.buildAuthorizationUrl(rp, params), state, ...(nonce ? { nonce } : {}), ...(codeVerifier ? { codeVerifier } : {}) };
}

/** Runs the front-channel leg up to the redirect back to the client (never fetched). */
export async function authorize(rp: client.Configuration, options: AuthorizeOptions): Promise<Authorized> {
  const browser = options.browser ?? new Browser();
  const { url, state, nonce, codeVerifier } = await authorizationRequest(rp, { ...options, scope: options.scope ?? 'openid profile' });
  const stopAt = (u: URL) => u.href.startsWith(options.redirectUri);
  const { url: callback } = options.post
    ? await browser.follow(new URL(url.origin + url.pathname), stopAt, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: url.searchParams.toString(),
      })
    : await browser.follow(url, stopAt);
  return { callback, browser, state, nonce: nonce!, ...(codeVerifier ? { codeVerifier } : {}) };
}

/** Front channel + code exchange; returns the token response and what it took. */
export async function signIn(rp: client.Configuration, options: AuthorizeOptions) {
  const authorized = await authorize(rp, options);
  const tokens = await client.authorizationCodeGrant(rp, authorized.callback, {
    expectedState: authorized.state,
    expectedNonce: authorized.nonce,
    ...(authorized.codeVerifier ? { pkceCodeVerifier: authorized.codeVerifier } : {}),
  });
  return { ...authorized, tokens };
}

/** A raw form POST (for malformed and concurrent requests openid-client would refuse to send). */
export function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
