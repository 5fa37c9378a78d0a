/**
 * passport-oauth2's Strategy, made to fit the bridge (integration-notes.md, "passport-oauth2"):
 * - state, PKCE verifier and nonce live in our LegStore (see leg-state-store.ts);
 * - the token call is fetch-based (token-exchange.ts): client_secret_basic or _post, a timeout,
 *   and a 200 with an error body fails closed;
 * - userinfo goes out with `Authorization: Bearer` (user-info.ts);
 * - `?error=` is answered only after the leg's state has been checked and burned, so a forged
 *   error cannot cancel someone else's login; every failure is an UpstreamError or a LegStateError.
 * The oauth2 and oidc upstreams both build on it; they differ in `buildIdentity`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import OAuth2Strategy from 'passport-oauth2';
import { isObject, safeCode, type UpstreamHttp } from '../fetch-json.js';
import { legSecretsOf, legStateStore, type LegStart } from '../leg-state-store.js';
import { settle } from '../settle.js';
import { nodeOAuthTokenCall, type TokenEndpoint, type TokenResponse } from '../token-exchange.js';
import { UpstreamError, type LegSecrets, type LegStore, type UpstreamAuthenticateOptions, type UpstreamIdentity } from '../types.js';
import { fetchUserInfo } from '../user-info.js';

export interface UpstreamStrategyOptions {
  upstream: string;
  authorizationURL: string;
  token: TokenEndpoint;
  /** Fetched with the access token when set; its JSON object becomes `profile`. */
  userInfoURL?: string;
  scope?: string;
  pkce: boolean;
  /** Send an OIDC `nonce`, kept with the leg and handed to `buildIdentity`. */
  nonce: boolean;
  callbackUrl: string;
  legs: LegStore;
  http: UpstreamHttp;
}

export interface CallbackResult {
  tokens: TokenResponse;
  /** The userinfo JSON object, or undefined when no userinfo URL is configured. */
  profile: Record<string, unknown> | undefined;
  secrets: LegSecrets;
}

export type IdentityBuilder = (result: CallbackResult) => Promise<UpstreamIdentity>;

const PROTOCOL_PARAMS = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method']);

type Query = Record<string, unknown>;
type Actions = { error(err: unknown): void };

export class UpstreamOAuth2Strategy extends OAuth2Strategy {
  constructor(private readonly opts: UpstreamStrategyOptions, buildIdentity: IdentityBuilder) {
    super({
      authorizationURL: opts.authorizationURL,
      tokenURL: opts.token.url,
      clientID: opts.token.clientId,
      // Unused: the token call below does its own client authentication.
      clientSecret: opts.token.clientSecret ?? '',
      callbackURL: opts.callbackUrl,
      scope: opts.scope,
      store: legStateStore(opts.legs) as unknown as OAuth2Strategy.StateStore,
      skipUserProfile: opts.userInfoURL === undefined,
      passReqToCallback: true,
    }, verifyWith(buildIdentity));
    this.name = opts.upstream;
    // node-oauth cannot do client_secret_basic nor time out; passport-oauth2 calls this method only.
    (this._oauth2 as { getOAuthAccessToken: unknown }).getOAuthAccessToken = nodeOAuthTokenCall(opts.http, opts.token);
  }

  override authenticate(req: Request, options: UpstreamAuthenticateOptions = {}): void {
    const query = (req.query ?? {}) as Query;
    const isCallback = options.callback === true || ['code', 'state', 'error'].some((k) => query[k] !== undefined);
    if (!isCallback) {
      // An object `state` makes passport-oauth2 call our store with it (a string would bypass the store).
      super.authenticate(req, { ...options, state: this.newLeg() });
      return;
    }
    if (query.error !== undefined || typeof query.code !== 'string' || query.code === '') {
      this.refuseCallback(req, query);
      return;
    }
    super.authenticate(req, { callback: true });
  }

  override authorizationParams(options: UpstreamAuthenticateOptions & { state?: LegStart }): object {
    const params: Record<string, string> = Object.fromEntries(
      Object.entries(options.authorizationParams ?? {}).filter(([key]) => !PROTOCOL_PARAMS.has(key)));
    const leg = options.state ?? {};
    if (leg.nonce) params.nonce = leg.nonce;
    if (leg.codeVerifier) {
      params.code_challenge = createHash('sha256').update(leg.codeVerifier).digest('base64url');
      params.code_challenge_method = 'S256';
    }
    return params;
  }

  /**
   * PKCE is done here rather than with passport-oauth2's `pkce` option, which draws the verifier
   * from the deprecated `crypto.pseudoRandomBytes`. RFC 7636 §4.1: 32 random octets, base64url.
   */
  private newLeg(): LegStart {
    const leg: LegStart = {};
    if (this.opts.pkce) leg.codeVerifier = randomBytes(32).toString('base64url');
    if (this.opts.nonce) leg.nonce = randomBytes(24).toString('base64url');
    return leg;
  }

  override userProfile(accessToken: string, done: (err?: unknown, profile?: unknown) => void): void {
    if (this.opts.userInfoURL === undefined) return done(null, undefined);
    settle(fetchUserInfo(this.opts.http, this.opts.userInfoURL, accessToken), (profile) => done(null, profile), (err) => done(err));
  }

  /** passport-oauth2 wraps token errors in InternalOAuthError; ours are already UpstreamErrors. */
  _createOAuthError(message: string, err: unknown): Error {
    if (err instanceof UpstreamError) return err;
    return new UpstreamError(this.opts.upstream, 'failed', message, {}, { cause: err });
  }

  /** `?error=`, or a callback without a code: burn the leg first, so only this browser's live leg gets the outcome. */
  private refuseCallback(req: Request, query: Query): void {
    const actions = this as unknown as Actions;
    const state = typeof query.state === 'string' ? query.state : undefined;
    settle(this.opts.legs.finish(req, state), () => actions.error(callbackError(this.opts.upstream, query)), (err) => actions.error(err));
  }
}

function callbackError(upstream: string, query: Query): UpstreamError {
  if (query.error === undefined) return new UpstreamError(upstream, 'failed', 'callback without an authorization code', { code: 'no_code' });
  const code = safeCode(query.error);
  // RFC 6749 §4.1.2.1: access_denied is the person (or the upstream's policy) saying no.
  if (code === 'access_denied') return new UpstreamError(upstream, 'denied', 'sign-in was declined at the upstream', { code });
  return new UpstreamError(upstream, 'failed', `upstream answered error ${code ?? '(unreadable)'}`, { code: code ?? 'upstream_error' });
}

/** passport-oauth2 picks the 6-argument form (with the token response) by arity: keep all six. */
function verifyWith(buildIdentity: IdentityBuilder): OAuth2Strategy.VerifyFunctionWithRequest {
  return (req: Request, accessToken: string, refreshToken: string, params: unknown, profile: unknown, verified: OAuth2Strategy.VerifyCallback) => {
    const tokens: TokenResponse = { accessToken, refreshToken: refreshToken || undefined, params: isObject(params) ? params : {} };
    const secrets = legSecretsOf(req) ?? {};
    settle(
      buildIdentity({ tokens, profile: isObject(profile) ? profile : undefined, secrets }),
      (identity) => verified(null, identity as unknown as Express.User),
      (err) => verified(err),
    );
  };
}
