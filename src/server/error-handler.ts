import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { negotiateLocale, pageHeaders, plainPages, type Locale, type ProtocolPages } from '../pages/index.js';
import { StoreUnavailableError } from '../store/types.js';

interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  error?: unknown;
  error_description?: unknown;
  message?: unknown;
}

const CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_client',
  403: 'access_denied',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'invalid_request',
  415: 'invalid_request',
  429: 'slow_down',
  503: 'temporarily_unavailable',
};

/** The status to answer: the error's own 4xx/5xx, 503 for a store outage, else 500. */
export function statusOf(err: unknown): number {
  if (err instanceof StoreUnavailableError) return 503;
  const e = (err ?? {}) as HttpishError;
  const status = Number(e.statusCode ?? e.status);
  return Number.isInteger(status) && status >= 400 && status < 600 ? status : 500;
}

/** What a client may see: an OAuth-style code and a safe description; never a stack or an internal message. */
export function publicErrorOf(err: unknown, status: number): { error: string; error_description?: string } {
  if (err instanceof StoreUnavailableError) {
    return { error: 'temporarily_unavailable', error_description: 'the session store is unreachable, try again shortly' };
  }
  const e = (err ?? {}) as HttpishError;
  const exposed = status < 500 && e.expose !== false;
  if (!exposed && status !== 503) return { error: 'server_error', error_description: 'something went wrong' };
  const error = typeof e.error === 'string' ? e.error : (CODES[status] ?? (status < 500 ? 'invalid_request' : 'server_error'));
  const description =
    typeof e.error_description === 'string'
      ? e.error_description
      : e.expose === true && typeof e.message === 'string'
        ? e.message
        : undefined;
  return description ? { error, error_description: description } : { error };
}

/** Answers in the format the client asked for: an HTML page for browsers, JSON otherwise. */
export function sendError(
  req: Request,
  res: Response,
  status: number,
  body: { error: string; error_description?: string },
  pages: ProtocolPages,
  defaultLocale: Locale,
): void {
  res.status(status).set('Cache-Control', 'no-store');
  if (req.accepts(['json', 'html']) === 'html') {
    const locale = negotiateLocale({ uiLocales: req.query?.ui_locales, acceptLanguage: req.get('accept-language'), defaultLocale });
    // The pages' own policy (no script, no framing), as on every other page of ours.
    res.set(pageHeaders());
    res.type('html').send(pages.error({ error: body.error, description: body.error_description, locale, status }));
  } else {
    res.json(body);
  }
}

/** The last express middleware: maps err.status/statusCode; a client mistake is never a 500. */
export function errorHandler(deps: { log: Logger; pages?: ProtocolPages; defaultLocale: Locale }) {
  const pages = deps.pages ?? plainPages;
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    const status = statusOf(err);
    if (status >= 500) deps.log.error({ err, path: req.path, method: req.method }, 'request failed');
    else deps.log.debug({ status, path: req.path, method: req.method, message: (err as Error)?.message }, 'request refused');
    if (res.headersSent) {
      next(err); // express then closes the connection
      return;
    }
    sendError(req, res, status, publicErrorOf(err, status), pages, deps.defaultLocale);
  };
}

/** For paths outside the issuer: a 404 in the same shapes. */
export function notFound(deps: { pages?: ProtocolPages; defaultLocale: Locale }) {
  const pages = deps.pages ?? plainPages;
  return (req: Request, res: Response) => {
    sendError(req, res, 404, { error: 'not_found', error_description: 'no such endpoint' }, pages, deps.defaultLocale);
  };
}
