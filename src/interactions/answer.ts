/**
 * How the interaction routes answer: a page (with the page headers and, where something went
 * wrong, the request id the person can quote) or a 303, and the one place that turns an error a
 * step threw into its answer (`answerError`, the last handler of every route). Every redirect is a
 * 303 so a form POST is never replayed as a POST.
 *
 * Upstream failures follow UpstreamError.reason (docs/architecture.md, "Failure behaviour"): a
 * cancelled sign-in goes back to the client as the OAuth error it expects; everything else is a
 * page, because the client could do nothing useful with it and the person needs to know whom to
 * ask. The cause goes to the log under the request id; the person sees the page, with the
 * upstream's safe detail (a hint and a code such as a missing DingTalk permission).
 */
import type { NextFunction, Request, Response } from 'express';
import { AccountBusyError } from '../accounts/errors.js';
import { InteractionExpiredError } from '../oidc/interaction-view.js';
import { applyPageHeaders, interpolate, localized, type Locale, type PageName } from '../pages/index.js';
import { StoreUnavailableError } from '../store/types.js';
import { LegStateError, UpstreamError } from '../upstreams/types.js';
import { localeOf, stateOf, type Ctx } from './context.js';
import type { InteractionView } from './ports.js';

/** An error answered with the generic page of an `errors.*` message group (`errors.forbidden` …). */
export class PageError extends Error {
  override name = 'PageError';
  constructor(
    readonly status: number,
    readonly messageKey: string,
    message = messageKey,
  ) {
    super(message);
  }
}

/** The request id of the server's log context (src/server/request-id.ts), shown on error pages. */
const requestIdOf = (req: Request): string | undefined => (req as { id?: unknown }).id as string | undefined;

export interface PageAnswer {
  name: PageName;
  status?: number;
  locale: Locale;
  data?: Record<string, unknown>;
  /** The client whose redirect origins the page's forms may end in. */
  clientId?: string;
  /** The script tags of the page carry this nonce; only they run. */
  scriptNonce?: string;
}

export function sendPage(ctx: Ctx, req: Request, res: Response, answer: PageAnswer): void {
  const status = answer.status ?? 200;
  // A reference to quote only where something went wrong.
  const reference = status >= 400 ? { requestId: requestIdOf(req) } : {};
  const nonce = answer.scriptNonce === undefined ? {} : { nonce: answer.scriptNonce };
  const html = ctx.pages.render(answer.name, { ...reference, ...answer.data, ...nonce }, answer.locale);
  applyPageHeaders(res, ctx.formActions(answer.clientId), answer.scriptNonce === undefined ? {} : { scriptNonce: answer.scriptNonce });
  res.status(status).type('html').send(html);
}

/** An `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 5.2); ids from a URL are reduced to that. */
export function describable(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '?').slice(0, 64);
}

export function seeOther(res: Response, url: string): void {
  applyPageHeaders(res);
  res.redirect(303, url);
}

export function clientNameOf(ctx: Ctx, view: Pick<InteractionView, 'clientId' | 'clientName'>): string {
  return view.clientName ?? ctx.interactions.clientExtras(view.clientId)?.clientName ?? view.clientId;
}

/** The "back to the application" form: ends the interaction with access_denied. */
export function abortForm(ctx: Ctx, req: Request, res: Response, uid: string): { action: string; csrf: string } {
  return { action: ctx.paths.abort(uid), csrf: ctx.csrf.issue(req, res, uid) };
}

/** The page link that shows an interaction in the other language. */
export function switchLocaleHref(ctx: Ctx, uid: string, locale: Locale): string {
  return `${ctx.paths.interaction(uid)}?lang=${locale === 'en' ? 'zh-CN' : 'en'}`;
}

export type ErrorView = 'errors/not-allowed' | 'errors/ask-your-admin' | 'errors/upstream-failed';

export type Outcome =
  { readonly error: 'access_denied'; readonly error_description: string } | { readonly view: ErrorView; readonly status: 403 | 502 };

export function outcomeFor(err: Pick<UpstreamError, 'reason'>): Outcome {
  switch (err.reason) {
    case 'denied':
      return { error: 'access_denied', error_description: 'sign-in cancelled' } as const;
    case 'not_allowed':
      return { view: 'errors/not-allowed', status: 403 } as const;
    case 'misconfigured':
      return { view: 'errors/ask-your-admin', status: 502 } as const;
    default:
      return { view: 'errors/upstream-failed', status: 502 } as const;
  }
}

/** The last handler of every route: whatever a step threw becomes a page, never a stack trace. */
export function answerError(ctx: Ctx) {
  return async (err: unknown, req: Request, res: Response, _next: NextFunction): Promise<void> => {
    try {
      await answer(ctx, req, res, err);
    } catch (renderErr) {
      // Even the error page failed (templates unreadable?): a plain answer, never a crash.
      ctx.log.error({ err: renderErr }, 'error page failed');
      if (!res.headersSent) res.status(500).type('text').send('Something went wrong. Please try again later.');
    }
  };
}

async function answer(ctx: Ctx, req: Request, res: Response, err: unknown): Promise<void> {
  if (res.headersSent) {
    ctx.log.error({ err }, 'interaction failed after the response started');
    res.end();
    return;
  }
  const locale = localeOf(ctx, req, res);
  const generic = (status: number, messageKey: string) =>
    sendPage(ctx, req, res, { name: 'errors/generic', status, locale, data: { messageKey } });
  if (err instanceof InteractionExpiredError) {
    sendPage(ctx, req, res, { name: 'errors/expired', status: 400, locale });
  } else if (err instanceof LegStateError) {
    ctx.log.info({ upstream: req.params.id, reason: err.reason }, 'upstream callback refused: %s', err.message);
    sendPage(ctx, req, res, { name: 'errors/invalid-link', status: 400, locale });
  } else if (err instanceof UpstreamError) {
    await answerUpstreamError(ctx, req, res, err, locale);
  } else if (err instanceof PageError) {
    generic(err.status, err.messageKey);
  } else if (isRefusedBody(err)) {
    generic(400, 'errors.generic');
  } else if (err instanceof StoreUnavailableError) {
    ctx.log.warn({ err: err.message }, 'interaction: store unavailable');
    generic(503, 'errors.unavailable');
  } else if (err instanceof AccountBusyError) {
    // Dozens of writers on one account at once (src/store/records.ts): trying again is the answer.
    ctx.log.warn({ sub: err.sub }, 'interaction: account busy');
    generic(503, 'errors.unavailable');
  } else {
    ctx.log.error({ err }, 'interaction failed');
    generic(500, 'errors.generic');
  }
}

/** A malformed or oversized form body (express.urlencoded's client errors). */
function isRefusedBody(err: unknown): boolean {
  const { status, type } = (err ?? {}) as { status?: unknown; type?: unknown };
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500;
}

async function answerUpstreamError(ctx: Ctx, req: Request, res: Response, err: UpstreamError, locale: Locale): Promise<void> {
  const state = stateOf(res);
  // On a callback the interaction is the finished leg's, while it is still alive.
  const view = state.view ?? (state.leg ? await ctx.interactions.find(state.leg.uid) : undefined);
  const outcome = outcomeFor(err);
  ctx.log.warn({ uid: view?.uid, upstream: err.upstream, reason: err.reason, code: err.detail.code, err }, 'upstream sign-in failed');
  if ('error' in outcome) {
    if (!view) return sendPage(ctx, req, res, { name: 'errors/expired', status: 400, locale });
    return seeOther(res, await ctx.interactions.finishError(view.uid, outcome.error, outcome.error_description));
  }
  const upstreamName = localized(state.upstream?.displayName, locale, err.upstream);
  const clientName = view ? clientNameOf(ctx, view) : undefined;
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
      retryHref: outcome.view === 'errors/upstream-failed' && view ? ctx.paths.interaction(view.uid) : undefined,
      abort: view ? abortForm(ctx, req, res, view.uid) : undefined,
    },
  });
}

/** The upstream's hint in the page's language: a `hints.*` id, any message id, or literal text. */
function hintText(ctx: Ctx, err: UpstreamError, locale: Locale, names: { upstream: string; client?: string }): string | undefined {
  const { hint, params = {} } = err.detail;
  if (!hint) return err.detail.text?.[locale] ?? err.detail.text?.en;
  const t = ctx.pages.translator(locale);
  const all = { ...params, ...names };
  if (ctx.pages.hasMessage(`hints.${hint}`)) return t(`hints.${hint}`, all);
  if (ctx.pages.hasMessage(hint)) return t(hint, all);
  return interpolate(hint, all);
}
