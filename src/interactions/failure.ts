/**
 * The last resort of every interaction route: whatever escaped a handler becomes a page, never a
 * stack trace. Errors are caught per route (not by a router-level error middleware) because the
 * router shares its mount path with oidc-provider and must not answer for errors of other routes.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { StoreUnavailableError } from '../store/types.js';
import type { Ctx } from './context.js';
import { sendExpired } from './interaction-page.js';
import { isInteractionExpired } from './ports.js';
import { requestId, sendMessagePage } from './respond.js';

export function sendFailure(ctx: Ctx, req: Request, res: Response, err: unknown): void {
  if (res.headersSent) {
    ctx.log.error({ reqId: requestId(req), err }, 'interaction failed after the response started');
    res.end();
    return;
  }
  if (isInteractionExpired(err)) {
    sendExpired(ctx, req, res);
  } else if (err instanceof StoreUnavailableError) {
    ctx.log.warn({ reqId: requestId(req), err: err.message }, 'interaction: store unavailable');
    sendMessagePage(ctx, req, res, 503, 'errors.unavailable');
  } else {
    ctx.log.error({ reqId: requestId(req), err }, 'interaction failed');
    sendMessagePage(ctx, req, res, 500, 'errors.generic');
  }
}

/** An async route handler whose rejections become pages. */
export function handle(ctx: Ctx, fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req: Request, res: Response, _next: NextFunction) => {
    fn(req, res).catch((err: unknown) => {
      try {
        sendFailure(ctx, req, res, err);
      } catch (renderErr) {
        // Even the error page failed (templates unreadable?): a plain answer, never a crash.
        ctx.log.error({ reqId: requestId(req), err: renderErr }, 'error page failed');
        if (!res.headersSent) res.status(500).type('text').send('Something went wrong. Please try again later.');
      }
    });
  };
}
