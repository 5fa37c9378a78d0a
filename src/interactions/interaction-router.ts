/**
 * The interaction routes, mounted by the server at the issuer's path before oidc-provider. Each
 * route is its list of steps, read top to bottom like oidc-provider's own action lists
 * (https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/authorization/index.js):
 * a step answers, or hands on to the next one (`res.locals` carries what it found), or throws; the
 * last handler of every route, `answerError` (./answer.ts), answers whatever was thrown. It sits in
 * each route, not the router, because the router shares its mount path with oidc-provider and must
 * not answer for errors of other routes.
 */
import express, { type ErrorRequestHandler, type RequestHandler, type Router } from 'express';
import { IN_APP_SCRIPT, JSAPI_SCRIPT, STYLESHEET, type Asset } from '../pages/index.js';
import { answerError, seeOther } from './answer.js';
import { abortInteraction, checkCsrf, grantConsent, showConsent, skipConsent } from './consent-prompt.js';
import { createContext, stateOf, viewLocale, type InteractionRouterDeps, type Step } from './context.js';
import { inAppSignIn, showInAppPage } from './in-app-login.js';
import { goToUpstream, recheckSession, showChooser } from './login-prompt.js';
import { finishSilentRecheck } from './silent-recheck.js';
import {
  configuredUpstream,
  finishLogin,
  linkAccount,
  loginPromptOnly,
  offeredUpstream,
  redirectToUpstream,
  runCallback,
} from './upstream-leg.js';

export type { InteractionRouterDeps } from './context.js';

export function createInteractionRouter(deps: InteractionRouterDeps): Router {
  const ctx = createContext(deps);
  const route = (...steps: Step[]): [...RequestHandler[], ErrorRequestHandler] => [
    ...steps.map(
      (step): RequestHandler =>
        (req, res, next) =>
          step(ctx, req, res, next),
    ),
    answerError(ctx),
  ];
  const router = express.Router();

  router.get(
    '/interaction/:uid',
    ...route(
      loadInteraction, //    this browser's interaction (else the "expired" page) and its language
      recheckSession, //     login, a reused session due for its membership recheck only: ask its upstream
      goToUpstream, //       login: the upstream `upstream=` names, or the client's only one
      showChooser, //        login: the person picks an upstream
      skipConsent, //        consent, first-party client: granted without asking
      showConsent, //        consent: the page
      unsupportedPrompt,
    ),
  );
  router.get(
    '/interaction/:uid/upstream/:id',
    ...route(
      loadInteraction,
      loginPromptOnly, //    the prompt moved on (another tab): back to the page
      offeredUpstream, //    an upstream not offered to this client is invalid_request
      showInAppPage, //      inside the DingTalk app: the page that asks its JSAPI for a code
      redirectToUpstream, // a fresh single-use leg; the strategy redirects to the upstream
    ),
  );
  router.post(
    '/interaction/:uid/upstream/:id/in-app',
    ...route(
      formBody,
      checkCsrf, //          this browser's token for this interaction
      loadInteraction, //    and this browser's interaction
      loginPromptOnly,
      offeredUpstream,
      inAppSignIn, //        the code → the identity; anything but a refusal goes back to the redirect
      linkAccount,
      finishLogin,
    ),
  );
  router.get(
    '/upstream/:id/callback',
    ...route(
      configuredUpstream, // 404 for an id not configured
      runCallback, //        the strategy burns `state`, exchanges the code, yields the identity
      finishSilentRecheck, // a silent recheck's leg: the same person goes on with the session's auth_time
      linkAccount, //        the identity becomes an account
      finishLogin, //        the leg's interaction is finished for it: 303 to oidc-provider
    ),
  );
  router.post('/interaction/:uid/consent', ...route(formBody, checkCsrf, loadInteraction, grantConsent));
  router.post('/interaction/:uid/abort', ...route(formBody, checkCsrf, loadInteraction, abortInteraction));
  router.get(`/assets/${STYLESHEET}`, (req, res) =>
    sendAsset(req, res, { ...ctx.pages.stylesheet, contentType: 'text/css; charset=utf-8' }),
  );
  for (const name of [IN_APP_SCRIPT, JSAPI_SCRIPT] as const)
    router.get(`/assets/${name}`, (req, res) => sendAsset(req, res, ctx.pages.script(name)));
  return router;
}

/** The interaction of the URL, if it is this browser's (else InteractionExpiredError), and the language of its pages. */
const loadInteraction: Step = async (ctx, req, res, next) => {
  const view = await ctx.interactions.get(req, res, String(req.params.uid));
  Object.assign(stateOf(res), { view, locale: viewLocale(ctx, req, view) });
  next();
};

const unsupportedPrompt: Step = async (ctx, _req, res) => {
  const { view } = stateOf(res);
  seeOther(res, await ctx.interactions.finishError(view!.uid, 'server_error', 'unsupported interaction prompt'));
};

/** Bodies are parsed only on the two POST routes (oidc-provider reads its own raw bodies): small urlencoded forms. */
const parseForm = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
const formBody: Step = (_ctx, req, res, next) => parseForm(req, res, next);

/** The stylesheet and the in-app page's scripts (src/pages/scripts.ts). */
function sendAsset(req: express.Request, res: express.Response, asset: Pick<Asset, 'body' | 'etag' | 'contentType'>): void {
  const { body, etag } = asset;
  const versioned = req.query.v === etag;
  res.setHeader('Content-Type', asset.contentType);
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
