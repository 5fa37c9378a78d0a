/**
 * Sign-in inside the upstream's client app (DingTalk's 免登; src/upstreams/dingtalk/in-app.ts).
 * Where a leg starts, a browser inside the DingTalk app gets a page instead of the redirect: its
 * script asks the DingTalk JSAPI for a code and posts it back with the page's form. The post is
 * bound to this interaction in this browser twice over: the interaction cookie oidc-provider
 * scoped to `/interaction/<uid>` (loadInteraction) and a CSRF token for that uid and this
 * browser's nonce cookie (checkCsrf), so a code obtained on one page never finishes another
 * browser's login. The code then takes the same membership, account and claims path as the
 * upstream's callback (linkAccount, finishLogin).
 *
 * Nothing here is a dead end: without the JSAPI, when the person refuses, when the JSAPI does not
 * answer in time (the page's script), and when the upstream cannot use the code (here), the
 * browser goes to the start route with `inApp=off`, which redirects to the upstream as usual. Only
 * a person the upstream refuses (not a member, an external contact) gets the refusal page, as
 * they would after the redirect.
 */
import { randomBytes } from 'node:crypto';
import { localized } from '../pages/index.js';
import { StoreUnavailableError } from '../store/types.js';
import { asUpstreamError } from '../upstreams/types.js';
import { clientNameOf, seeOther, sendPage } from './answer.js';
import { current, stateOf, type Ctx, type Step } from './context.js';

/** The start route's query that skips the in-app page (the page's own fallback). */
export const IN_APP_OFF = 'inApp';
const REASON = /^[a-z_]{1,32}$/;
/** DingTalk's codes are short printable tokens; anything else is no code of theirs. */
const CODE = /^[\x21-\x7e]{1,512}$/;

function fallbackHref(ctx: Ctx, uid: string, upstreamId: string): string {
  return `${ctx.paths.upstreamStart(uid, upstreamId)}?${IN_APP_OFF}=off`;
}

/** GET /interaction/:uid/upstream/:id from inside the upstream's client app: the page that asks its JSAPI. */
export const showInAppPage: Step = (ctx, req, res, next) => {
  const { view, locale } = current(res);
  const upstream = stateOf(res).upstream!;
  const inApp = upstream.inApp;
  if (!inApp || !inApp.detects(req)) return next();
  if (req.query[IN_APP_OFF] === 'off') {
    const reason = typeof req.query.reason === 'string' && REASON.test(req.query.reason) ? req.query.reason : 'unknown';
    ctx.log.info({ uid: view.uid, upstream: upstream.id, reason }, 'in-app sign-in not used; redirecting to the upstream');
    return next();
  }
  const { page } = inApp;
  sendPage(ctx, req, res, {
    name: 'dingtalk-in-app',
    locale,
    clientId: view.clientId,
    scriptNonce: randomBytes(18).toString('base64url'),
    data: {
      upstreamName: localized(upstream.displayName, locale, upstream.id),
      clientName: clientNameOf(ctx, view),
      action: ctx.paths.inAppSignIn(view.uid, upstream.id),
      csrf: ctx.csrf.issue(req, res, view.uid),
      corpId: page.corpId,
      clientId: page.clientId,
      timeoutMs: page.timeoutMs,
      fallbackHref: fallbackHref(ctx, view.uid, upstream.id),
      jsapiSrc: page.jsapiUrl ?? ctx.pages.script('dingtalk-jsapi.js').href,
      scriptSrc: ctx.pages.script('dingtalk-in-app.js').href,
    },
  });
};

/** POST /interaction/:uid/upstream/:id/in-app: the code → the identity, or back to the redirect. */
export const inAppSignIn: Step = async (ctx, req, res, next) => {
  const { view, locale } = current(res);
  const state = stateOf(res);
  const upstream = state.upstream!;
  const fallBack = () => seeOther(res, fallbackHref(ctx, view.uid, upstream.id));
  const code = (req.body as Record<string, unknown> | undefined)?.code;
  if (!upstream.inApp || typeof code !== 'string' || !CODE.test(code)) return fallBack();
  try {
    state.identity = await upstream.inApp.signIn(code);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    const failure = asUpstreamError(upstream.id, err);
    if (failure.reason === 'not_allowed') {
      ctx.metrics.loginFinished(upstream.id, failure.reason);
      throw failure;
    }
    ctx.log.warn(
      { uid: view.uid, upstream: upstream.id, reason: failure.reason, code: failure.detail.code, err: failure.message },
      'in-app sign-in failed; redirecting to the upstream instead',
    );
    return fallBack();
  }
  // The interaction this browser holds is the one the code finishes.
  state.leg = { uid: view.uid, upstream: upstream.id, locale };
  next();
};
