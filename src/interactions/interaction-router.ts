/**
 * The interaction routes, mounted by the server at the issuer's path before oidc-provider:
 *   GET  /interaction/:uid                 login prompt (recheck, direct start, chooser) or consent
 *   GET  /interaction/:uid/upstream/:id    starts an upstream leg
 *   GET  /upstream/:id/callback            finishes it (one fixed URL per upstream)
 *   POST /interaction/:uid/consent         allow (CSRF-protected form)
 *   POST /interaction/:uid/abort           deny / cancel (CSRF-protected form)
 *   GET  /assets/bridge.css                the pages' stylesheet
 * Bodies are parsed only on the two POST routes: oidc-provider reads its own raw bodies.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { consentPrompt, postAbort, postConsent } from './consent-prompt.js';
import { createContext, type Ctx, type InteractionRouterDeps } from './context.js';
import { handle } from './failure.js';
import { loadInteraction, viewLocale } from './interaction-page.js';
import { loginPrompt } from './login-prompt.js';
import { STYLESHEET } from './pages.js';
import { seeOther, sendMessagePage } from './respond.js';
import { startUpstream, upstreamCallback } from './upstream-leg.js';

export type { InteractionRouterDeps } from './context.js';

export function createInteractionRouter(deps: InteractionRouterDeps): Router {
  const ctx = createContext(deps);
  const router = express.Router();
  const form = formBody(ctx);

  router.get('/interaction/:uid', handle(ctx, (req, res) => showInteraction(ctx, req, res)));
  router.get('/interaction/:uid/upstream/:id', handle(ctx, (req, res) => startUpstream(ctx, req, res)));
  router.get('/upstream/:id/callback', handle(ctx, (req, res) => upstreamCallback(ctx, req, res)));
  router.post('/interaction/:uid/consent', form, handle(ctx, (req, res) => postConsent(ctx, req, res)));
  router.post('/interaction/:uid/abort', form, handle(ctx, (req, res) => postAbort(ctx, req, res)));
  router.get(`/assets/${STYLESHEET}`, (req, res) => sendStylesheet(ctx, req, res));
  return router;
}

async function showInteraction(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const view = await loadInteraction(ctx, req, res, String(req.params.uid));
  if (!view) return;
  const locale = viewLocale(ctx, req, view);
  if (view.prompt === 'login') return loginPrompt(ctx, req, res, view, locale);
  if (view.prompt === 'consent') return consentPrompt(ctx, req, res, view, locale);
  seeOther(res, await ctx.interactions.finishError(view.uid, 'server_error', 'unsupported interaction prompt'));
}

/** Small urlencoded bodies on our own form routes; a malformed or oversized one gets a 400 page. */
function formBody(ctx: Ctx) {
  const parse = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
  return (req: Request, res: Response, next: NextFunction) => {
    parse(req, res, (err?: unknown) => (err ? sendMessagePage(ctx, req, res, 400, 'errors.generic') : next()));
  };
}

function sendStylesheet(ctx: Ctx, req: Request, res: Response): void {
  const { body, etag } = ctx.pages.stylesheet;
  const versioned = req.query.v === etag;
  res.setHeader('Content-Type', 'text/css; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // The page links carry ?v=<digest>: such a URL never changes content.
  res.setHeader('Cache-Control', versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
  res.setHeader('ETag', `"${etag}"`);
  if (req.headers['if-none-match'] === `"${etag}"`) {
    res.status(304).end();
    return;
  }
  res.send(body);
}
