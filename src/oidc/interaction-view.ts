/**
 * What the protocol layer tells the interaction pages (src/interactions) about a pending login or
 * consent, and the error it raises when there is none. Loads nothing of oidc-provider, so the
 * interaction routes check these by `instanceof` and by constant without depending on it at run
 * time; src/oidc/interactions-api.ts produces them.
 */

/** The login prompt's reason when a reused browser session's account needs a membership recheck (src/oidc/login-policy.ts). */
export const RECHECK_DUE = 'recheck_due';

/**
 * The login page is gone: no or a foreign interaction cookie, expired, or already finished.
 * oidc-provider's own SessionNotFound for an interaction arrives as this too.
 */
export class InteractionExpiredError extends Error {
  override name = 'InteractionExpiredError';
  readonly status = 400;
  readonly expose = true;
  constructor(message = 'this sign-in page has expired; start again from the application') {
    super(message);
  }
}

/** An interaction (a pending login or consent) as the interaction pages need it. */
export interface InteractionView {
  uid: string;
  prompt: 'login' | 'consent';
  /** Why the prompt was raised: no_session, max_age, login (prompt=login), recheck_due, account_unavailable, op_scopes_missing … */
  reasons: string[];
  clientId: string;
  clientName?: string;
  /** The authorization request's parameters: ui_locales, upstream, login_hint, scope, prompt, max_age … */
  params: Record<string, unknown>;
  /** The browser session's account, when there is one. `loginTs` in epoch seconds. */
  session?: { accountId: string; loginTs?: number };
  missingScopes: string[];
  missingClaims: string[];
  /** Where the browser goes once the interaction is finished (the provider's resume URL). */
  returnTo: string;
  /** Epoch seconds after which the interaction no longer exists. */
  expiresAt: number;
}

export interface LoginResult {
  accountId: string;
  amr?: string[];
  acr?: string;
  /** false: the browser session ends with the browser (a transient cookie). Default true. */
  remember?: boolean;
  /**
   * When the person actually authenticated (epoch seconds; becomes `auth_time`). Default: now. A
   * silent recheck of a reused session passes the session's own login time, so relying parties'
   * `max_age` still counts from the real authentication (OIDC Core 1.0 §2, `auth_time`).
   */
  authTime?: number;
}
