/**
 * Answers an UpstreamError (STYLE §4): outcomeFor picks an OAuth error for the client or a page.
 * The cause goes to the log under the request id; the person sees only the page, with the
 * upstream's safe detail (a hint and a code such as a missing DingTalk permission).
 */
import type { Request, Response } from 'express';
import { UpstreamError, type Upstream } from '../upstreams/types.js';
import type { Ctx } from './context.js';
import { abortForm, clientNameOf, sendExpired } from './interaction-page.js';
import { localized, type Locale } from './locale.js';
import { interpolate } from './messages.js';
import { outcomeFor } from './outcome.js';
import type { InteractionView } from './ports.js';
import { requestId, seeOther, sendPage } from './respond.js';

export interface FailureTarget {
  locale: Locale;
  /** The interaction the failed leg belongs to, while it is still alive. */
  view?: InteractionView;
  upstream?: Upstream;
  /** Where "try again" leads; default: the interaction's login page. */
  retryHref?: string;
}

/** The upstream's hint in the page's language: a `hints.*` id, any message id, or literal text. */
export function hintText(ctx: Ctx, err: UpstreamError, locale: Locale, names: { upstream: string; client?: string }): string | undefined {
  const { hint, params = {} } = err.detail;
  if (!hint) return err.detail.text?.[locale] ?? err.detail.text?.en;
  const t = ctx.pages.translator(locale);
  const all = { ...params, ...names };
  if (ctx.pages.hasMessage(`hints.${hint}`)) return t(`hints.${hint}`, all);
  if (ctx.pages.hasMessage(hint)) return t(hint, all);
  return interpolate(hint, all);
}

export async function answerUpstreamError(ctx: Ctx, req: Request, res: Response, err: UpstreamError, target: FailureTarget): Promise<void> {
  const { view, locale } = target;
  const outcome = outcomeFor(err);
  ctx.log.warn({ reqId: requestId(req), uid: view?.uid, upstream: err.upstream, reason: err.reason, code: err.detail.code, err }, 'upstream sign-in failed');
  if ('error' in outcome) {
    if (!view) return sendExpired(ctx, req, res, locale);
    return seeOther(res, await ctx.interactions.finishError(view.uid, outcome.error, outcome.error_description));
  }
  const upstreamName = localized(target.upstream?.displayName, locale, err.upstream);
  const clientName = view ? clientNameOf(ctx, view) : undefined;
  const retryable = outcome.view === 'errors/upstream-failed';
  sendPage(ctx, req, res, {
    name: outcome.view,
    status: outcome.status,
    locale,
    clientId: view?.clientId,
    data: {
      upstreamName,
      clientName: clientName ?? ctx.pages.translator(locale)('common.theApplication'),
      hint: hintText(ctx, err, locale, { upstream: upstreamName, client: clientName }),
      code: err.detail.code,
      retryHref: retryable && view ? target.retryHref ?? ctx.paths.interaction(view.uid) : undefined,
      abort: view ? abortForm(ctx, req, res, view.uid) : undefined,
    },
  });
}

/** Anything a strategy throws that is not an UpstreamError is the upstream failing, as far as the person can tell. */
export function asUpstreamError(upstreamId: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  return new UpstreamError(upstreamId, 'failed', err instanceof Error ? err.message : 'authentication failed', {}, { cause: err });
}
