import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { viaProvider } from './errors.js';
import { RECHECK_DUE } from './interaction-view.js';

/** Whether a reused browser session must go back to its upstream (docs/architecture.md, "A login, step by step", step 2). */
export type NeedsRecheck = (accountId: string, sessionLoginTs: number | undefined) => Promise<boolean>;
/** The upstream ids a client may sign people in with (src/oidc/clients.ts, `allowedUpstreams`). */
export type AllowedUpstreams = (clientId: string) => readonly string[];

/** The upstream a loaded account came through (find-account.ts puts it beside the claims). */
const upstreamOf = (account: unknown) => (account as { upstream?: unknown } | undefined)?.upstream;

/** `ttl.sessionAbsolute` and the clock it is measured with (epoch seconds). */
export interface SessionLifetime {
  absoluteSeconds: number;
  now: () => number;
}

/** Reason of a login prompt for a session whose login is older than `ttl.sessionAbsolute`. */
const SESSION_TOO_OLD = 'session_too_old';

/**
 * oidc-provider's default prompts, with more reasons to raise the login prompt for a browser
 * session that already has an account:
 * - `account_unavailable`: the account is gone, has left or was tombstoned (findAccount found
 *   nothing), so the session must not be reused;
 * - `upstream_not_allowed`: the account came through an upstream the client does not offer (its
 *   `upstreams`), so for this client the session counts as none;
 * - `upstream_mismatch`: `upstream=<id>` names another upstream than the session's;
 * - `recheck_due` (RECHECK_DUE): `needsRecheck` says the upstream must confirm the person again;
 * - `session_too_old` (SESSION_TOO_OLD): the session's login is older than `ttl.sessionAbsolute`.
 *   oidc-provider renews a session's TTL on every use, so without it a busy session never ends.
 * None fires right after a login (`result.login`), which would loop. Under `prompt=none` each
 * answers `login_required`.
 */
export function createInteractionPolicy(needsRecheck: NeedsRecheck, allowedUpstreams: AllowedUpstreams, lifetime: SessionLifetime) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;

  login.checks.add(
    new interactionPolicy.Check(
      SESSION_TOO_OLD,
      'the session is older than its absolute lifetime',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        const { session, result } = ctx.oidc;
        if (!session?.accountId || result?.login || session.loginTs === undefined) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const tooOld = lifetime.now() - session.loginTs > lifetime.absoluteSeconds;
        return tooOld ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
      },
    ),
  );

  login.checks.add(
    new interactionPolicy.Check(
      'account_unavailable',
      'the signed-in account is no longer available',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        const { session, result, account } = ctx.oidc;
        if (!session?.accountId || account) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        // A login that just finished named an account findAccount cannot load: asking again would loop.
        if (result?.login) throw new errors.AccessDenied('the account is not available');
        return interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );

  login.checks.add(
    new interactionPolicy.Check(
      'upstream_not_allowed',
      'the session signed in through an upstream this client does not allow',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        // A client limited to an organisation's upstream must not inherit a session from a more
        // permissive one (e.g. `allowAnyDingTalkUser`): the restriction is the client's access control.
        const { session, result, account, client } = ctx.oidc;
        if (!session?.accountId || !account || !client) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const current = upstreamOf(account);
        const allowed = typeof current === 'string' && allowedUpstreams(client.clientId).includes(current);
        if (allowed) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        // A login that just finished through an upstream the client does not allow: asking again would loop.
        if (result?.login) throw new errors.AccessDenied('the account came through an upstream this client does not allow');
        return interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );

  login.checks.add(
    new interactionPolicy.Check(
      'upstream_mismatch',
      'the request names another upstream than the session signed in with',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        // `upstream=<id>` is never a silent fallback (docs/architecture.md, "A login, step by step",
        // step 1): a session from another upstream must not answer for it, or a client with one IdP
        // per upstream binds the wrong one.
        const { session, result, account, params } = ctx.oidc;
        const requested = params?.upstream;
        if (!session?.accountId || !account || result?.login || typeof requested !== 'string' || !requested) {
          return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        }
        const current = upstreamOf(account);
        return current === requested ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );

  login.checks.add(
    new interactionPolicy.Check(
      RECHECK_DUE,
      'the identity source must confirm the account again',
      'login_required',
      async (ctx: KoaContextWithOIDC) => {
        const { session, result, account } = ctx.oidc;
        if (!session?.accountId || !account || result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const { accountId, loginTs } = session;
        const due = await viaProvider(() => needsRecheck(accountId, loginTs));
        return due ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
      },
    ),
  );

  return policy;
}
