/**
 * The upstream leg (DESIGN "The login, step by step", 3–5): the start route hands the browser to
 * the upstream with a fresh single-use `state`; the callback burns it, gets the identity from the
 * strategy, links the account and finishes the interaction the leg belongs to.
 */
import type { Request, Response } from 'express';
import { StoreUnavailableError } from '../store/types.js';
import { LegStateError, type Upstream, type UpstreamIdentity } from '../upstreams/types.js';
import type { Ctx } from './context.js';
import { describable, loadInteraction, sendExpired, viewLocale } from './interaction-page.js';
import type { Leg } from './leg-store.js';
import type { Locale } from './locale.js';
import { isInteractionExpired, type InteractionView } from './ports.js';
import { applyPageHeaders } from './page-headers.js';
import { requestId, seeOther, sendMessagePage, sendPage } from './respond.js';
import { runStrategy, type StrategyResult } from './run-strategy.js';
import { allowedUpstreams } from './upstream-choice.js';
import { answerUpstreamError, asUpstreamError } from './upstream-failure.js';
import { linkAndFinish } from './link-account.js';

/** GET /interaction/:uid/upstream/:id */
export async function startUpstream(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const uid = String(req.params.uid);
  const id = String(req.params.id);
  const view = await loadInteraction(ctx, req, res, uid);
  if (!view) return;
  if (view.prompt !== 'login') return seeOther(res, ctx.paths.interaction(uid));
  const upstream = allowedUpstreams(ctx.interactions.clientExtras(view.clientId), ctx.upstreams).find((u) => u.id === id);
  if (!upstream) {
    return seeOther(res, await ctx.interactions.finishError(uid, 'invalid_request', `unknown upstream: ${describable(id)}`));
  }
  const locale = viewLocale(ctx, req, view);
  ctx.legs(upstream.id).prepare(req, { uid, expiresAt: view.expiresAt, locale });
  // The strategy answers with its own redirect: it must not carry this URL to the upstream either.
  applyPageHeaders(res);
  const result = await runStrategy(ctx.strategy(upstream), req, res);
  if (result.kind === 'responded') return;
  await answerStrategyFailure(ctx, req, res, result, { upstream, view, locale, starting: true });
}

/** GET /upstream/:id/callback */
export async function upstreamCallback(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const upstream = ctx.upstreams.get(String(req.params.id));
  if (!upstream) return sendMessagePage(ctx, req, res, 404, 'errors.notFound');
  applyPageHeaders(res);
  const result = await runStrategy(ctx.strategy(upstream), req, res, { callback: true });
  if (result.kind === 'responded') return;
  const leg = await legOf(ctx, req, upstream, result);
  const locale = leg?.locale ?? ctx.pages.locale({ acceptLanguage: req.headers['accept-language'] });
  if (result.kind === 'success') {
    // A strategy that succeeds without having burnt this browser's state finishes nobody's login.
    if (!leg) {
      ctx.metrics.loginFinished(upstream.id, 'invalid_state');
      return sendInvalidLink(ctx, req, res, locale, new LegStateError('missing', 'strategy succeeded without finishing its leg'));
    }
    return linkAndFinish(ctx, req, res, { leg, upstream, identity: result.user as UpstreamIdentity });
  }
  const view = leg ? await ctx.interactions.find(leg.uid) : undefined;
  await answerStrategyFailure(ctx, req, res, result, { upstream, view, locale });
}

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

async function answerStrategyFailure(
  ctx: Ctx, req: Request, res: Response, result: StrategyResult,
  target: { upstream: Upstream; view: InteractionView | undefined; locale: Locale; starting?: boolean },
): Promise<void> {
  const failure = failureOf(result);
  if (failure instanceof LegStateError) {
    // On the start route the only leg error is an interaction about to expire.
    if (target.starting) return sendExpired(ctx, req, res, target.locale);
    ctx.metrics.loginFinished(target.upstream.id, 'invalid_state');
    return sendInvalidLink(ctx, req, res, target.locale, failure);
  }
  if (failure instanceof StoreUnavailableError || isInteractionExpired(failure)) throw failure;
  const err = asUpstreamError(target.upstream.id, failure);
  ctx.metrics.loginFinished(target.upstream.id, err.reason);
  await answerUpstreamError(ctx, req, res, err, target);
}

function sendInvalidLink(ctx: Ctx, req: Request, res: Response, locale: Locale, err: LegStateError): void {
  ctx.log.info({ reqId: requestId(req), upstream: req.params.id, reason: err.reason }, 'upstream callback refused: %s', err.message);
  sendPage(ctx, req, res, { name: 'errors/invalid-link', status: 400, locale });
}
