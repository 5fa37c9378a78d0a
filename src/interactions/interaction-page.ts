/** Steps shared by the routes that work on one interaction of this browser. */
import type { Request, Response } from 'express';
import type { Ctx } from './context.js';
import type { Locale } from './locale.js';
import { isInteractionExpired, type InteractionView } from './ports.js';
import { sendPage } from './respond.js';

/** This browser's interaction `uid`, or undefined after answering with the "expired" page. */
export async function loadInteraction(ctx: Ctx, req: Request, res: Response, uid: string): Promise<InteractionView | undefined> {
  try {
    return await ctx.interactions.get(req, res, uid);
  } catch (err) {
    if (!isInteractionExpired(err)) throw err;
    sendExpired(ctx, req, res);
    return undefined;
  }
}

export function sendExpired(ctx: Ctx, req: Request, res: Response, locale?: Locale): void {
  sendPage(ctx, req, res, { name: 'errors/expired', status: 400, locale: locale ?? ctx.pages.locale({ acceptLanguage: req.headers['accept-language'] }) });
}

/** `?lang=` (the page's own language switch), then `ui_locales`, then Accept-Language. */
export function viewLocale(ctx: Ctx, req: Request, view: Pick<InteractionView, 'params'>): Locale {
  const requested = [req.query.lang, view.params.ui_locales].filter((v): v is string => typeof v === 'string');
  return ctx.pages.locale({ uiLocales: requested.join(' '), acceptLanguage: req.headers['accept-language'] });
}

/** The page link that shows an interaction in the other language. */
export function switchLocaleHref(ctx: Ctx, uid: string, locale: Locale): string {
  return `${ctx.paths.interaction(uid)}?lang=${locale === 'en' ? 'zh-CN' : 'en'}`;
}

export function clientNameOf(ctx: Ctx, view: Pick<InteractionView, 'clientId' | 'clientName'>): string {
  return view.clientName ?? ctx.interactions.clientExtras(view.clientId)?.clientName ?? view.clientId;
}

/** The "back to the application" form: ends the interaction with access_denied. */
export function abortForm(ctx: Ctx, req: Request, res: Response, uid: string): { action: string; csrf: string } {
  return { action: ctx.paths.abort(uid), csrf: ctx.csrf.issue(req, res, uid) };
}

/** An `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 5.2); ids from a URL are reduced to that. */
export function describable(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '?').slice(0, 64);
}
