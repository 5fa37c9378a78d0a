/**
 * A fake OpenID Provider (the shape of IDaaS EIAM 2.0, Keycloak…): discovery, a JWKS with a
 * jose-generated RS256 key, an authorize endpoint that auto-approves the configured user with a
 * 302 to the registered redirect_uri (exact match; honouring nonce and PKCE) and keeps a session
 * for the browser (a cookie), which `prompt=none` requires (else `login_required`, OIDC Core 1.0
 * §3.1.2.6) and answers for the session's person, not the configured one; a token endpoint
 * issuing a signed ID token for single-use codes bound to their client and redirect_uri, and userinfo.
 * Fault knobs produce the ID tokens and documents an RP must refuse.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { HostileRule } from './hostile-answers.js';
import {
  clientAuthOf,
  json,
  redirect,
  registrations,
  s256,
  startHttpDouble,
  type DoubleRequest,
  type Registrations,
  type SeenClientAuth,
} from './http-double.js';

export type FakeOidcUser = { sub: string } & Record<string, unknown>;

export type FakeOidcFault =
  | 'deny' // authorize: 302 back with error=access_denied
  | 'wrong_nonce' // ID token carries another nonce
  | 'no_nonce' // ID token carries no nonce although the request sent one
  | 'wrong_issuer' // ID token `iss` differs from the discovery issuer
  | 'wrong_audience' // ID token `aud` is another client
  | 'extra_audience' // ID token `aud` also names another client, without `azp`
  | 'extra_audience_azp' // the same with `azp` = our client (acceptable)
  | 'bad_signature' // ID token signed by a key not in the JWKS (same kid)
  | 'expired_id_token'
  | 'no_id_token' // token response without id_token
  | 'thin_id_token' // ID token carries only sub (profile claims only at userinfo)
  | 'userinfo_other_sub' // userinfo answers for another subject
  | 'discovery_wrong_issuer' // discovery document names another issuer
  | 'discovery_500'
  | 'jwks_500'
  | 'token_slow' // token endpoint answers after `slowMs`
  | 'prompt_none_interaction_required' // authorize with prompt=none: error=interaction_required although signed in
  | 'prompt_none_consent_required'; // the same with consent_required

export interface FakeOidcOptions {
  clientId?: string;
  clientSecret?: string;
  /** What the token endpoint accepts. Default `any` (basic, post, or none for a public client). */
  clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'none' | 'any';
  user?: FakeOidcUser;
  /** Path of the issuer below the server URL, e.g. `/v2/idaas_x/app_y/oidc` (EIAM 2.0 style). Default none. */
  issuerPath?: string;
  /** The host name the issuer calls itself (its URLs keep the port); default 127.0.0.1. E.g. a name only an egress proxy resolves. */
  issuerHost?: string;
  /** Refuse authorization requests without a PKCE S256 challenge. */
  requirePkce?: boolean;
  slowMs?: number;
  /** Registered redirect URIs; more with `addRedirectUri`. */
  redirectUris?: string[];
  /** Hostile answers from the first request on (e.g. to discovery at the bridge's start-up); later `setHostile`. */
  hostile?: HostileRule;
}

export interface FakeOidcRequests {
  discovery: number;
  authorize: URLSearchParams[];
  token: { auth: SeenClientAuth; form: URLSearchParams }[];
  userinfo: { authorization?: string; query: URLSearchParams }[];
}

export interface FakeOidcIssuer extends Pick<Registrations, 'addRedirectUri'> {
  url: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  endpoints: { discovery: string; authorization: string; token: string; userinfo: string; jwks: string };
  requests: FakeOidcRequests;
  /** Whom the next interactive sign-in signs in (sessions keep their person). */
  setUser(user: FakeOidcUser): void;
  /** Every browser's session at the issuer ends: prompt=none answers login_required. */
  endSessions(): void;
  /** Every live session now belongs to `user` (someone else signed in at the issuer in that browser). */
  setSessionUser(user: FakeOidcUser): void;
  setFault(fault: FakeOidcFault | undefined): void;
  /** Hostile answers for the requests `rule` picks (test/doubles/hostile-answers.ts). */
  setHostile(rule: HostileRule | undefined): void;
  close(): Promise<void>;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  user: FakeOidcUser;
  nonce?: string;
  challenge?: string;
}

export const DEFAULT_OIDC_USER: FakeOidcUser = {
  sub: 'user-1',
  name: 'Li Na',
  email: 'lina@example.test',
  email_verified: true,
  preferred_username: 'lina',
  phone_number: '+86 138 0000 0001',
  picture: 'https://example.test/lina.png',
  groups: ['platform', 'sre'],
};

export async function startFakeOidcIssuer(options: FakeOidcOptions = {}): Promise<FakeOidcIssuer> {
  const clientId = options.clientId ?? 'oidc-client';
  const clientSecret = options.clientSecret ?? 'oidc-secret';
  let user = options.user ?? DEFAULT_OIDC_USER;
  let fault: FakeOidcFault | undefined;
  const keys = await signingKeys();
  const codes = new Map<string, IssuedCode>();
  /** Browser sessions at the issuer, by the random value of their cookie. */
  const sessions = new Map<string, FakeOidcUser>();
  const tokens = new Map<string, FakeOidcUser>();
  const requests: FakeOidcRequests = { discovery: 0, authorize: [], token: [], userinfo: [] };
  const base = options.issuerPath ?? '';
  let issuer = '';
  const clients = registrations(clientId, options.redirectUris);

  const authorize = (req: DoubleRequest, res: ServerResponse) => {
    requests.authorize.push(req.query);
    const redirectUri = req.query.get('redirect_uri');
    const refusal = clients.refusal(req.query.get('client_id'), redirectUri);
    if (refusal || !redirectUri || req.query.get('response_type') !== 'code') {
      return json(res, 400, { error: 'invalid_request', error_description: refusal ?? 'response_type must be code' });
    }
    const state = req.query.get('state') ?? undefined;
    const challenge = req.query.get('code_challenge') ?? undefined;
    if (fault === 'deny') return redirect(res, redirectUri, { error: 'access_denied', state });
    if (!(req.query.get('scope') ?? '').split(' ').includes('openid')) return redirect(res, redirectUri, { error: 'invalid_scope', state });
    if (options.requirePkce && (!challenge || req.query.get('code_challenge_method') !== 'S256')) {
      return redirect(res, redirectUri, { error: 'invalid_request', error_description: 'PKCE S256 required', state });
    }
    const prompts = (req.query.get('prompt') ?? '').split(' ');
    const sid = /(?:^|;\s*)fake_op_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    let signedIn = sid === undefined ? undefined : sessions.get(sid);
    if (prompts.includes('none')) {
      // OIDC Core 1.0 §3.1.2.1: no page may be shown; without a session the answer is login_required.
      if (!signedIn) return redirect(res, redirectUri, { error: 'login_required', state });
      if (fault === 'prompt_none_interaction_required') return redirect(res, redirectUri, { error: 'interaction_required', state });
      if (fault === 'prompt_none_consent_required') return redirect(res, redirectUri, { error: 'consent_required', state });
    } else {
      // An interactive sign-in (auto-approved): the configured person, in a new session.
      signedIn = user;
      const newSid = randomBytes(16).toString('hex');
      sessions.set(newSid, user);
      res.setHeader('set-cookie', `fake_op_session=${newSid}; Path=/; HttpOnly; SameSite=Lax`);
    }
    const code = randomBytes(16).toString('hex');
    codes.set(code, { clientId, redirectUri, user: signedIn, nonce: req.query.get('nonce') ?? undefined, challenge });
    return redirect(res, redirectUri, { code, state });
  };

  const token = async (req: DoubleRequest, res: ServerResponse) => {
    const auth = clientAuthOf(req);
    requests.token.push({ auth, form: req.form });
    if (fault === 'token_slow' && !(await double.delay(options.slowMs ?? 5000))) return;
    const accepted = options.clientAuth ?? 'any';
    const authOk =
      auth.clientId === clientId &&
      (auth.method === 'none'
        ? accepted === 'none' || accepted === 'any'
        : auth.clientSecret === clientSecret && (accepted === 'any' || accepted === auth.method));
    if (!authOk) return json(res, 401, { error: 'invalid_client' });
    const issued = codes.get(req.form.get('code') ?? '');
    codes.delete(req.form.get('code') ?? '');
    if (
      !issued ||
      issued.clientId !== auth.clientId ||
      issued.redirectUri !== req.form.get('redirect_uri') ||
      req.form.get('grant_type') !== 'authorization_code'
    ) {
      return json(res, 400, { error: 'invalid_grant' });
    }
    if (issued.challenge && s256(req.form.get('code_verifier') ?? '') !== issued.challenge)
      return json(res, 400, { error: 'invalid_grant' });
    if (auth.method === 'none' && !issued.challenge)
      return json(res, 400, { error: 'invalid_grant', error_description: 'public clients need PKCE' });
    const accessToken = randomBytes(16).toString('hex');
    tokens.set(accessToken, issued.user);
    const idToken = fault === 'no_id_token' ? undefined : await signIdToken(keys, issuer, clientId, issued, fault);
    return json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken });
  };

  const userinfo = (req: DoubleRequest, res: ServerResponse) => {
    requests.userinfo.push({ authorization: req.headers.authorization, query: req.query });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const owner = bearer === undefined ? undefined : tokens.get(bearer);
    if (!owner) return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    return json(res, 200, fault === 'userinfo_other_sub' ? { ...owner, sub: 'someone-else' } : owner);
  };

  const discovery = (_req: DoubleRequest, res: ServerResponse) => {
    requests.discovery += 1;
    if (fault === 'discovery_500') return json(res, 500, { error: 'server_error' });
    return json(res, 200, {
      issuer: fault === 'discovery_wrong_issuer' ? `${issuer}/elsewhere` : issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    });
  };

  const jwks = (_req: DoubleRequest, res: ServerResponse) => {
    if (fault === 'jwks_500') return json(res, 500, { error: 'server_error' });
    return json(res, 200, { keys: [keys.publicJwk] });
  };

  const double = await startHttpDouble({
    [`GET ${base}/.well-known/openid-configuration`]: discovery,
    [`GET ${base}/authorize`]: authorize,
    [`POST ${base}/token`]: token,
    [`GET ${base}/userinfo`]: userinfo,
    [`GET ${base}/jwks`]: jwks,
  });
  const served = new URL(double.url);
  if (options.issuerHost) served.hostname = options.issuerHost;
  issuer = `${served.origin}${base}`;
  if (options.hostile) double.setHostile(options.hostile);
  return {
    url: double.url,
    issuer,
    clientId,
    clientSecret,
    endpoints: {
      discovery: `${issuer}/.well-known/openid-configuration`,
      authorization: `${issuer}/authorize`,
      token: `${issuer}/token`,
      userinfo: `${issuer}/userinfo`,
      jwks: `${issuer}/jwks`,
    },
    requests,
    addRedirectUri: (uri) => clients.addRedirectUri(uri),
    setUser(next) {
      user = next;
    },
    endSessions() {
      sessions.clear();
    },
    setSessionUser(next) {
      for (const sid of sessions.keys()) sessions.set(sid, next);
    },
    setFault(next) {
      fault = next;
    },
    setHostile: (rule) => double.setHostile(rule),
    close: () => double.close(),
  };
}

interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  /** Not in the JWKS: signs the `bad_signature` tokens under the published kid. */
  strangerKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKeys(): Promise<SigningKeys> {
  const kid = randomBytes(8).toString('hex');
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  return {
    kid,
    privateKey,
    strangerKey: stranger.privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

async function signIdToken(
  keys: SigningKeys,
  issuer: string,
  clientId: string,
  issued: IssuedCode,
  fault: FakeOidcFault | undefined,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = fault === 'thin_id_token' ? { sub: issued.user.sub } : { ...issued.user };
  const nonce = fault === 'wrong_nonce' ? 'not-the-nonce' : fault === 'no_nonce' ? undefined : issued.nonce;
  if (nonce !== undefined) claims.nonce = nonce;
  const expired = fault === 'expired_id_token';
  if (fault === 'extra_audience_azp') claims.azp = clientId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' })
    .setIssuer(fault === 'wrong_issuer' ? `${issuer}/other` : issuer)
    .setAudience(audienceFor(clientId, fault))
    .setIssuedAt(expired ? now - 3600 : now)
    .setExpirationTime(expired ? now - 1800 : now + 300)
    .sign(fault === 'bad_signature' ? keys.strangerKey : keys.privateKey);
}

function audienceFor(clientId: string, fault: FakeOidcFault | undefined): string | string[] {
  if (fault === 'wrong_audience') return 'someone-else';
  if (fault === 'extra_audience' || fault === 'extra_audience_azp') return [clientId, 'another-client'];
  return clientId;
}
