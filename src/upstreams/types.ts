/**
 * The upstream contract (docs/architecture.md, "The upstream contract"). Each upstream type is a
 * Connector (build the login URL, turn the callback into an UpstreamIdentity, recheck); one
 * adapter (connector-strategy.ts) runs every Connector through passport. Upstreams know nothing
 * of oidc-provider, interactions or accounts.
 */
import type { Request } from 'express';
import type { Strategy } from 'passport';
import type { DisplayName } from '../config/schema.js';

export interface UpstreamIdentity {
  /** Upstream id from config. */
  upstream: string;
  /** The upstream's stable user id (DingTalk unionId, IDaaS sub). */
  subject: string;
  /** E.g. "dingtalk:<corpId>"; with linkKey it derives `sub`. Never the config id. */
  linkDomain: string;
  /** The subject unless configured otherwise. Never an email or a mobile number. */
  linkKey: string;
  name?: string;
  email?: string;
  emailVerified?: boolean;
  /** E.164, e.g. +8613800000000. */
  phoneNumber?: string;
  phoneNumberVerified?: boolean;
  picture?: string;
  locale?: string;
  /** Candidates for preferred_username, keyed by the `usernames.candidates` source they feed. */
  usernameHints: UsernameHint[];
  /** E.g. DingTalk department paths. */
  groups: string[];
  /** E.g. dingtalk_userid, dingtalk_unionid, dingtalk_corp_id, job_number, title. */
  extra: Record<string, unknown>;
  /** What a recheck needs (e.g. the DingTalk userid). Kept server-side, never put in tokens. */
  connectorData?: string;
}

/** A username candidate and the `usernames.candidates` entry it answers to. */
export interface UsernameHint {
  source: 'orgEmail' | 'email' | 'pinyin' | 'jobNumber' | 'userid';
  value: string;
}

export type UpstreamErrorReason = 'denied' | 'not_allowed' | 'misconfigured' | 'unavailable' | 'failed';

/** Thrown (or passed to passport's `error`) by upstreams; interactions/ picks the page or OAuth error. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly upstream: string,
    readonly reason: UpstreamErrorReason,
    message: string,
    /**
     * Safe to show on the error page (never secrets, tokens or codes): `code` is the upstream's error
     * code (e.g. "60020"); `text` says what happened and what to do, per locale.
     */
    readonly detail: { code?: string; hint?: string; params?: Record<string, string>; text?: Partial<Record<'zh-CN' | 'en', string>> } = {},
    options?: ErrorOptions,
  ) {
    super(`${upstream}: ${message}`, options);
  }
}

/** Anything an upstream threw that is not an UpstreamError: the upstream failing, as far as the person can tell. */
export function asUpstreamError(upstream: string, err: unknown, reason: UpstreamErrorReason = 'failed'): UpstreamError {
  if (err instanceof UpstreamError) return err;
  return new UpstreamError(upstream, reason, err instanceof Error ? err.message : 'authentication failed', {}, { cause: err });
}

/** Why an upstream callback's `state` was refused. */
export class LegStateError extends Error {
  override name = 'LegStateError';
  constructor(
    readonly reason: 'missing' | 'unknown' | 'other_browser' | 'expired',
    message: string,
  ) {
    super(message);
  }
}

/** What the bridge keeps for one upstream leg, besides the interaction it belongs to. */
export interface LegSecrets {
  /** PKCE verifier, when the upstream gets a code_challenge. */
  codeVerifier?: string;
  /** OIDC nonce, checked against the ID token. */
  nonce?: string;
}

/**
 * Upstream-leg state, implemented by interactions/ on the shared store: single-use, bound to the
 * interaction and to the browser, so the callback may land on any replica but never completes
 * another browser's login.
 */
export interface LegStore {
  /** Persists the leg and returns the opaque `state` value to send upstream. */
  begin(req: Request, secrets: LegSecrets): Promise<string>;
  /** Burns `state` and returns the leg's secrets; throws LegStateError when it is not this browser's live leg. */
  finish(req: Request, state: string | undefined): Promise<LegSecrets>;
}

/**
 * Options the start and callback routes may pass to `passport.authenticate(strategy, options, cb)`
 * besides `session: false` (passport hands every option to the strategy).
 */
export interface UpstreamAuthenticateOptions {
  /**
   * `true`: the upstream callback, even when the request carries no `code`/`state`/`error` (the
   * callback route). `false`: the start of a leg, whatever the query holds (the steps that start a
   * leg, where a `state` or `code` in the URL is nobody's callback). Unset: a callback when the
   * query has one of those parameters.
   */
  callback?: boolean;
  /** Extra authorization request parameters where a leg starts (e.g. `{ prompt: 'login' }`); protocol parameters cannot be overridden. */
  authorizationParams?: Record<string, string>;
}

// Lets routes pass our options to `passport.authenticate` without a cast.
declare module 'passport' {
  // Module augmentation merges into passport's interface: it has to be an interface.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AuthenticateOptions extends UpstreamAuthenticateOptions {}
}

/** What a Connector needs to build the authorization request of one leg. */
export interface LoginRequest {
  /** Our callback URL, the `redirect_uri` registered at the upstream. */
  callbackUrl: string;
  /** Single-use, already stored with `secrets` in the LegStore. */
  state: string;
  secrets: LegSecrets;
  /** Extra authorization parameters from the step that starts the leg (e.g. `prompt`); never the protocol ones. */
  extra: Record<string, string>;
}

/** The callback of one leg, after its `state` was checked and burnt. */
export interface CallbackRequest {
  callbackUrl: string;
  /** The callback's query: `code`, `error`, `iss`… */
  params: URLSearchParams;
  state: string;
  secrets: LegSecrets;
}

/**
 * Sign-in inside the upstream's own client app (DingTalk's 免登): instead of the redirect, the
 * step that starts the leg serves a page whose script asks the app's JSAPI for a code and posts it back; the
 * upstream turns the code into the person through the same membership path as its callback.
 */
export interface InAppLogin {
  /** Whether the request comes from inside the upstream's client app (its user agent, or the stand-in's cookie). */
  detects(req: Pick<Request, 'headers'>): boolean;
  /** What the page hands the JSAPI: public values only. */
  readonly page: {
    corpId: string;
    clientId: string;
    /** How long the page waits for the JSAPI before it falls back to the redirect. */
    timeoutMs: number;
    /** A stand-in JSAPI (demo and tests); absent: the bundled dingtalk-jsapi. */
    jsapiUrl?: string;
  };
  /** The code the page got → the identity. Failures are UpstreamErrors. */
  signIn(code: string): Promise<UpstreamIdentity>;
}

/**
 * What each upstream type implements, after dex's connectors
 * (https://github.com/dexidp/dex/blob/master/connector/connector.go: CallbackConnector's LoginURL
 * and HandleCallback, RefreshConnector's Refresh). Passport, `state` and its browser binding are
 * not its business: the one adapter in connector-strategy.ts does them for every type.
 * Failures are UpstreamErrors.
 */
export interface Connector {
  readonly id: string;
  readonly type: 'dingtalk' | 'oauth2' | 'oidc';
  readonly displayName: DisplayName;
  /** Secrets of a new leg (PKCE verifier, nonce), kept with its `state`. Default none. */
  newLeg?(): LegSecrets;
  loginUrl(request: LoginRequest): string | Promise<string>;
  handleCallback(request: CallbackRequest): Promise<UpstreamIdentity>;
  /** Asked on refresh and on session reuse: the fresh identity, or 'revoked' when the person left. Throws UpstreamError('unavailable') when it cannot tell. */
  recheck?(identity: UpstreamIdentity): Promise<UpstreamIdentity | 'revoked'>;
  /** Start-up work (discovery); rejects with UpstreamError('misconfigured' | 'unavailable'). */
  init?(): Promise<void>;
  close?(): Promise<void>;
  /** Sign-in inside the upstream's client app, where it offers one. */
  readonly inApp?: InAppLogin;
}

/** A Connector as the rest of the bridge sees it (registry.ts builds it). */
export interface Upstream extends Pick<Connector, 'id' | 'type' | 'displayName' | 'recheck' | 'init' | 'close' | 'inApp'> {
  /**
   * A passport strategy (use it with `{ session: false }` and a custom callback). Its `authenticate`
   * redirects to the upstream where a leg starts and, on the callback route, calls
   * `success(identity: UpstreamIdentity)` or `error(UpstreamError | LegStateError)`.
   */
  createStrategy(callbackUrl: string, legs: LegStore): Strategy;
}
