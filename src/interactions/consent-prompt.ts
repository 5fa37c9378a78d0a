/**
 * The consent prompt (DESIGN "The login, step by step", 6) and the two form posts: allow, and
 * abort (deny on the consent page, cancel on the chooser and error pages). Both forms carry a CSRF
 * token bound to the interaction and this browser; a bad one changes nothing and gets a 403 page.
 */
import type { Request, Response } from 'express';
import type { Ctx } from './context.js';
import { describeConsent } from './consent-details.js';
import { clientNameOf, loadInteraction, switchLocaleHref } from './interaction-page.js';
import type { Locale } from './locale.js';
import { CSRF_FIELD } from './csrf.js';
import type { InteractionView } from './ports.js';
import { requestId, seeOther, sendMessagePage, sendPage } from './respond.js';

export async function consentPrompt(ctx: Ctx, req: Request, res: Response, view: InteractionView, locale: Locale): Promise<void> {
  // First-party clients: the operator vouches for them (DESIGN "Decisions"), also on prompt=consent.
  if (ctx.interactions.clientExtras(view.clientId)?.skipConsent) return seeOther(res, await ctx.interactions.finishConsent(view.uid));
  const account = view.session ? await ctx.accounts.get(view.session.accountId) : undefined;
  const accountName = account ? displayAccount(account.profile.name, account.username) : undefined;
  sendPage(ctx, req, res, {
    name: 'consent',
    locale,
    clientId: view.clientId,
    data: {
      clientName: clientNameOf(ctx, view),
      accountName,
      accountInitial: accountName ? Array.from(accountName)[0]?.toUpperCase() : undefined,
      items: describeConsent(view.missingScopes, view.missingClaims),
      allowAction: ctx.paths.consent(view.uid),
      denyAction: ctx.paths.abort(view.uid),
      csrf: ctx.csrf.issue(req, res, view.uid),
      switchLocaleHref: switchLocaleHref(ctx, view.uid, locale),
    },
  });
}

function displayAccount(name: string | undefined, username: string): string {
  return name && name !== username ? `${name} (${username})` : username;
}

/** The interaction of a form post, after its CSRF token checks out; undefined once answered. */
async function postedInteraction(ctx: Ctx, req: Request, res: Response): Promise<InteractionView | undefined> {
  const uid = String(req.params.uid);
  const token = (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
  if (!ctx.csrf.verify(req, uid, token)) {
    ctx.log.warn({ reqId: requestId(req), uid }, 'interaction form refused: bad CSRF token');
    sendMessagePage(ctx, req, res, 403, 'errors.forbidden');
    return undefined;
  }
  return loadInteraction(ctx, req, res, uid);
}

/** POST /interaction/:uid/consent */
export async function postConsent(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const view = await postedInteraction(ctx, req, res);
  if (!view) return;
  // A second tab or a double click after the prompt moved on: show whatever is current.
  if (view.prompt !== 'consent') return seeOther(res, ctx.paths.interaction(view.uid));
  seeOther(res, await ctx.interactions.finishConsent(view.uid));
}

/** POST /interaction/:uid/abort */
export async function postAbort(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const view = await postedInteraction(ctx, req, res);
  if (!view) return;
  seeOther(res, await ctx.interactions.finishError(view.uid, 'access_denied', 'the user cancelled the sign-in'));
}
