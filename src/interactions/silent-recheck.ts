/**
 * The silent recheck of a reused session whose account came from an oauth2 or oidc upstream with
 * `silentRecheck` on (src/config/schema.ts): once `recheckAfter` has passed, the bridge first
 * runs a leg with `prompt=none` (OIDC Core 1.0 §3.1.2.1), bound like every leg (single-use
 * `state`, this browser, PKCE and nonce where the upstream takes them), and marked with the
 * session's account.
 * - A code for the same person (same link domain and link key): the recheck passes, the profile is
 *   refreshed, nobody is asked anything, and `auth_time` stays the session's login time.
 * - Any error (`login_required`, `interaction_required`, `consent_required`, an unusable answer):
 *   the usual interactive leg at the same upstream, never a dead end.
 * - Another person (the upstream's session changed hands): a new login at that upstream with
 *   `prompt=login`, never a silent switch of accounts.
 */
import type { Request, Response } from 'express';
import type { Account } from '../accounts/types.js';
import { InteractionExpiredError } from '../oidc/interaction-view.js';
import { applyPageHeaders } from '../pages/index.js';
import { StoreUnavailableError } from '../store/types.js';
import { LegStateError, type Upstream } from '../upstreams/types.js';
import { seeOther } from './answer.js';
import { current, stateOf, type Ctx, type Step } from './context.js';
import { linkOrRefuse } from './link-account.js';
import type { InteractionView } from './ports.js';
import { runStrategy } from './run-strategy.js';

/** The start route's query that asks the upstream to authenticate the person again (`prompt=login`). */
export const REAUTHENTICATE = 'reauthenticate';

/** Whether a due recheck at this upstream first tries `prompt=none`. */
export function silentRecheckOf(ctx: Ctx, upstream: Upstream): boolean {
  const config = ctx.config.upstreams.find((u) => u.id === upstream.id);
  return (config?.type === 'oidc' || config?.type === 'oauth2') && config.silentRecheck;
}

/** Sends the browser to the upstream with `prompt=none`; when the leg cannot even start, to the interactive one. */
export async function startSilentRecheck(
  ctx: Ctx,
  req: Request,
  res: Response,
  view: InteractionView,
  account: Account,
  upstream: Upstream,
) {
  ctx.legs(upstream.id).prepare(req, { uid: view.uid, expiresAt: view.expiresAt, locale: current(res).locale, silentFor: account.sub });
  applyPageHeaders(res);
  const result = await runStrategy(ctx.strategy(upstream), req, res, { callback: false, authorizationParams: { prompt: 'none' } });
  if (result.kind === 'responded') return;
  ctx.log.info({ uid: view.uid, upstream: upstream.id }, 'silent recheck could not start; interactive sign-in');
  seeOther(res, ctx.paths.upstreamStart(view.uid, upstream.id));
}

/** The interactive leg a failed silent one falls back to (`reauthenticate`: the upstream must authenticate the person again). */
function interactive(ctx: Ctx, uid: string, upstream: Upstream, reauthenticate: boolean): string {
  const start = ctx.paths.upstreamStart(uid, upstream.id);
  return reauthenticate ? `${start}?${REAUTHENTICATE}=1` : start;
}

/**
 * On the callback of a silent leg that failed: the interactive leg instead. Returns false when
 * the failure is not the upstream's answer (no leg, the store, the interaction gone) and must be
 * answered as usual.
 */
export function silentFallback(ctx: Ctx, res: Response, failure: unknown): boolean {
  const { leg, upstream } = stateOf(res);
  if (!leg?.silentFor || !upstream) return false;
  if (failure instanceof LegStateError || failure instanceof StoreUnavailableError || failure instanceof InteractionExpiredError)
    return false;
  const code = (failure as { detail?: { code?: unknown } }).detail?.code;
  ctx.log.info({ uid: leg.uid, upstream: upstream.id, code }, 'silent recheck not answered; interactive sign-in');
  seeOther(res, interactive(ctx, leg.uid, upstream, false));
  return true;
}

/** After a silent leg's callback: the same person passes the recheck with the session's auth_time; anyone else signs in anew. */
export const finishSilentRecheck: Step = async (ctx, _req, res, next) => {
  const state = stateOf(res);
  const { leg, upstream, identity } = state;
  if (!leg?.silentFor || !upstream || !identity) return next();
  const account = await ctx.accounts.get(leg.silentFor);
  const view = await ctx.interactions.find(leg.uid);
  if (!view) throw new InteractionExpiredError();
  const same =
    account !== undefined &&
    account.status === 'active' &&
    account.upstream === upstream.id &&
    account.linkDomain === identity.linkDomain &&
    account.linkKey === identity.linkKey &&
    view.session?.accountId === account.sub;
  if (!same) {
    ctx.log.info({ uid: leg.uid, upstream: upstream.id }, 'silent recheck answered for another person; new sign-in');
    return seeOther(res, interactive(ctx, leg.uid, upstream, true));
  }
  // Disabled or marked left since the check above (another replica, the sweep): the not-allowed page.
  const linked = await linkOrRefuse(ctx, upstream, identity, { confirmsMembership: false });
  if (linked.sub !== account.sub) return seeOther(res, interactive(ctx, leg.uid, upstream, true));
  // Nobody authenticated just now: auth_time stays the session's login time.
  const returnTo = await ctx.interactions.finishLogin(leg.uid, {
    accountId: account.sub,
    amr: [upstream.type],
    ...(view.session?.loginTs === undefined ? {} : { authTime: view.session.loginTs }),
  });
  ctx.metrics.loginFinished(upstream.id, 'success');
  ctx.log.info({ uid: leg.uid, upstream: upstream.id, sub: account.sub }, 'silent recheck passed: session reused');
  seeOther(res, returnTo);
};
