/**
 * How interaction routes answer: a page (with the page headers and a request id the person can
 * quote) or a 303. Every redirect is a 303 so a form POST is never replayed as a POST.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Ctx } from './context.js';
import type { Locale } from './locale.js';
import { applyPageHeaders } from './page-headers.js';
import type { PageName } from './pages.js';

const ids = new WeakMap<Request, string>();
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The request id of log lines and error pages: the server's (`req.id`, X-Request-Id) or a fresh one. */
export function requestId(req: Request): string {
  let id = ids.get(req);
  if (!id) {
    const given = (req as { id?: unknown }).id ?? req.headers['x-request-id'];
    id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
    ids.set(req, id);
  }
  return id;
}

export interface PageAnswer {
  name: PageName;
  status?: number;
  locale: Locale;
  data?: Record<string, unknown>;
  /** The client whose redirect origins the page's forms may end in. */
  clientId?: string;
}

export function sendPage(ctx: Ctx, req: Request, res: Response, answer: PageAnswer): void {
  const status = answer.status ?? 200;
  // A reference to quote only where something went wrong.
  const reference = status >= 400 ? { requestId: requestId(req) } : {};
  const html = ctx.pages.render(answer.name, { ...reference, ...answer.data }, answer.locale);
  applyPageHeaders(res, ctx.formActions(answer.clientId));
  res.status(status).type('html').send(html);
}

export function seeOther(res: Response, url: string): void {
  applyPageHeaders(res);
  res.redirect(303, url);
}

/** A generic page from an `errors.*` message group (`errors.notFound`, `errors.forbidden` …). */
export function sendMessagePage(ctx: Ctx, req: Request, res: Response, status: number, messageKey: string, locale?: Locale): void {
  sendPage(ctx, req, res, { name: 'errors/generic', status, locale: locale ?? ctx.pages.locale({ acceptLanguage: req.headers['accept-language'] }), data: { messageKey } });
}
