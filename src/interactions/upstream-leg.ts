/**
 * The upstream leg (docs/architecture.md, "A login, step by step", steps 3–5): the step that
 * starts it (on `/interaction/<uid>`, or on the start route the chooser links to) hands the browser
 * to the upstream with a fresh single-use `state`; the callback burns it, gets the identity from
 * the strategy, links the account and finishes the interaction the leg belongs to. The browser
 * then follows the 303 to `returnTo` (/auth/<uid>), where the resume cookie, scoped to that path,
 * identifies it to oidc-provider.
 */
import type { Request } from 'express';
import { InteractionExpiredError } from '../oidc/interaction-view.js';
import { applyPageHeaders } from '../pages/index.js';
import { StoreUnavailableError } from '../store/types.js';
import { asUpstreamError, LegStateError, type Upstream, type UpstreamIdentity } from '../upstreams/types.js';
import { describable, PageError, seeOther } from './answer.js';
import { linkOrRefuse } from './link-account.js';
import { showInAppPage } from './in-app-login.js';
import { current, offeredUpstreams, stateOf, type Ctx, type Step } from './context.js';
import type { Leg } from './leg-store.js';
import { runStrategy, type StrategyResult } from './run-strategy.js';
import { REAUTHENTICATE, silentFallback } from './silent-recheck.js';

/** A second tab after the prompt moved on: back to whatever the interaction shows now. */
export const loginPromptOnly: Step = (ctx, _req, res, next) => {
  const { view } = current(res);
  if (view.prompt !== 'login') return seeOther(res, ctx.paths.interaction(view.uid));
  next();
};

/**
 * The upstream of the URL, if it is offered to this client; `invalid_request` otherwise. When the
 * client named one (`upstream=<id>`), only that one: another, reached by editing this URL, would
 * sign the person in where the client did not ask (a client with one identity provider per
 * upstream would bind the account to the wrong one), so the browser goes back to the interaction,
 * which starts the named upstream's leg (or answers `invalid_request` for a name it does not offer).
 */
export const offeredUpstream: Step = async (ctx, req, res, next) => {
  const { view } = current(res);
  const id = String(req.params.id);
  const upstream = offeredUpstreams(ctx, view).find((u) => u.id === id);
  if (!upstream)
    return seeOther(res, await ctx.interactions.finishError(view.uid, 'invalid_request', `unknown upstream: ${describable(id)}`));
  const requested = view.params.upstream;
  if (requested !== undefined && requested !== '' && requested !== id) return seeOther(res, ctx.paths.interaction(view.uid));
  stateOf(res).upstream = upstream;
  next();
};

/** A fresh leg; the strategy answers with its redirect to the upstream. */
export const redirectToUpstream: Step = async (ctx, req, res) => {
  const { view, locale } = current(res);
  const upstream = stateOf(res).upstream!;
  ctx.legs(upstream.id).prepare(req, { uid: view.uid, expiresAt: view.expiresAt, locale });
  // The strategy answers with its own redirect: it must not carry this URL to the upstream either.
  applyPageHeaders(res);
  // After a silent recheck answered for another person: the upstream authenticates the person again.
  const reauthenticate = req.query[REAUTHENTICATE] === '1';
  const result = await runStrategy(ctx.strategy(upstream), req, res, {
    callback: false,
    ...(reauthenticate ? { authorizationParams: { prompt: 'login' } } : {}),
  });
  if (result.kind === 'responded') return;
  const failure = failureOf(result);
  // Where a leg starts, the only leg error is an interaction about to expire.
  if (failure instanceof LegStateError) throw new InteractionExpiredError();
  throw refusal(ctx, upstream, failure);
};

/**
 * The start route's last two steps, for a route that has already picked the upstream
 * (`state.upstream`) and checked it is offered on a login prompt: the in-app page inside the
 * upstream's client app, else the redirect. The login prompt ends with it when the choice is made
 * without a page (the upstream `upstream=` names, the client's only one, a due session's own), so
 * the browser goes from `/interaction/<uid>` straight to the upstream: one request and one
 * redirect fewer per login than a 303 to the start route. The start route's query flags
 * (`inApp=off`, `reauthenticate=1`) work on either URL; both only make the login plainer or stricter.
 */
export const startLeg: Step = async (ctx, req, res, next) => {
  let redirect = false;
  await showInAppPage(ctx, req, res, () => {
    redirect = true;
  });
  if (redirect) await redirectToUpstream(ctx, req, res, next);
};

/** GET /upstream/:id/callback of an upstream that is not configured: 404. */
export const configuredUpstream: Step = (ctx, req, res, next) => {
  const upstream = ctx.upstreams.get(String(req.params.id));
  if (!upstream) throw new PageError(404, 'errors.notFound', 'no such upstream');
  stateOf(res).upstream = upstream;
  next();
};

/** The strategy checks and burns `state`, exchanges the code and yields the identity; a failure is thrown to be answered. */
export const runCallback: Step = async (ctx, req, res, next) => {
  const state = stateOf(res);
  const upstream = state.upstream!;
  applyPageHeaders(res);
  const result = await runStrategy(ctx.strategy(upstream), req, res, { callback: true });
  if (result.kind === 'responded') return;
  state.leg = await legOf(ctx, req, upstream, result);
  if (state.leg) state.locale = state.leg.locale;
  if (result.kind !== 'success') {
    // A silent recheck the upstream did not answer with a code: the interactive leg instead.
    if (silentFallback(ctx, res, failureOf(result))) return;
    throw refusal(ctx, upstream, failureOf(result));
  }
  // A strategy that succeeds without having burnt this browser's state finishes nobody's login.
  if (!state.leg) throw refusal(ctx, upstream, new LegStateError('missing', 'strategy succeeded without finishing its leg'));
  state.identity = result.user as UpstreamIdentity;
  next();
};

/** The identity becomes an account (docs/architecture.md, "A login, step by step", step 5). */
export const linkAccount: Step = async (ctx, _req, res, next) => {
  const state = stateOf(res);
  const upstream = state.upstream!;
  // An upstream that rechecks membership checked it at this login too: only it brings back an account marked left.
  state.account = await linkOrRefuse(ctx, upstream, state.identity!, { confirmsMembership: upstream.recheck !== undefined });
  next();
};

export const finishLogin: Step = async (ctx, _req, res) => {
  const { upstream, leg, account } = stateOf(res) as Required<ReturnType<typeof stateOf>>;
  let returnTo: string;
  try {
    returnTo = await ctx.interactions.finishLogin(leg.uid, { accountId: account.sub, amr: [upstream.type] });
  } catch (err) {
    if (err instanceof InteractionExpiredError) ctx.metrics.loginFinished(upstream.id, 'invalid_state');
    throw err;
  }
  ctx.metrics.loginFinished(upstream.id, 'success');
  ctx.log.info({ uid: leg.uid, upstream: upstream.id, sub: account.sub }, 'upstream sign-in finished');
  seeOther(res, returnTo);
};

/**
 * The leg this callback belongs to. When the strategy failed before checking `state` (an upstream
 * `?error=` is handled first), the leg is burnt here, with the same browser check, so a cancelled
 * sign-in still goes back to its own client.
 */
async function legOf(ctx: Ctx, req: Request, upstream: Upstream, result: StrategyResult): Promise<Leg | undefined> {
  const legs = ctx.legs(upstream.id);
  const finished = legs.finished(req);
  if (finished || result.kind === 'success' || failureOf(result) instanceof LegStateError) return finished;
  try {
    await legs.finish(req, typeof req.query.state === 'string' ? req.query.state : undefined);
    return legs.finished(req);
  } catch (err) {
    if (err instanceof LegStateError) return undefined;
    throw err;
  }
}

function failureOf(result: StrategyResult): unknown {
  if (result.kind === 'error') return result.err;
  if (result.kind === 'fail') return result.info;
  return undefined;
}

/** What a failed strategy run is answered as, counted for the operator. */
function refusal(ctx: Ctx, upstream: Upstream, failure: unknown): unknown {
  if (failure instanceof LegStateError) {
    ctx.metrics.loginFinished(upstream.id, 'invalid_state');
    return failure;
  }
  if (failure instanceof StoreUnavailableError || failure instanceof InteractionExpiredError) return failure;
  const err = asUpstreamError(upstream.id, failure);
  ctx.metrics.loginFinished(upstream.id, err.reason);
  return err;
}
