/**
 * The login prompt (DESIGN "The login, step by step", 1–2): recheck a reused session when its
 * membership check is due, else go to the named or only upstream, else show the chooser.
 */
import type { Request, Response } from 'express';
import { UpstreamError, type Upstream } from '../upstreams/types.js';
import type { Ctx } from './context.js';
import { abortForm, clientNameOf, describable, switchLocaleHref } from './interaction-page.js';
import { localized, type Locale } from './locale.js';
import type { InteractionView } from './ports.js';
import { requestId, seeOther, sendMessagePage, sendPage } from './respond.js';
import { allowedUpstreams, chooseUpstream } from './upstream-choice.js';
import { answerUpstreamError } from './upstream-failure.js';

/** Set by the protocol layer when an existing session's account needs a membership recheck. */
export const RECHECK_DUE = 'recheck_due';

export async function loginPrompt(ctx: Ctx, req: Request, res: Response, view: InteractionView, locale: Locale): Promise<void> {
  const allowed = allowedUpstreams(ctx.interactions.clientExtras(view.clientId), ctx.upstreams);
  if (isOnlyRecheck(view) && (await recheckSession(ctx, req, res, { view, locale, allowed }))) return;
  const choice = chooseUpstream(view.params.upstream, allowed);
  switch (choice.kind) {
    case 'invalid':
      return seeOther(res, await ctx.interactions.finishError(view.uid, 'invalid_request', `unknown upstream: ${describable(choice.requested)}`));
    case 'start':
      return seeOther(res, ctx.paths.upstreamStart(view.uid, choice.upstream.id));
    case 'none':
      // Config validation makes this unreachable unless every allowed upstream failed to load.
      ctx.log.error({ reqId: requestId(req), uid: view.uid, clientId: view.clientId }, 'no upstream available for this client');
      return sendMessagePage(ctx, req, res, 500, 'errors.generic', locale);
    case 'choose':
      return sendChooser(ctx, req, res, view, locale, choice.upstreams);
  }
}

/** prompt=login, max_age or a missing session force a fresh upstream leg; only a due recheck alone can be answered here. */
function isOnlyRecheck(view: InteractionView): boolean {
  return view.session !== undefined && view.reasons.length > 0 && view.reasons.every((r) => r === RECHECK_DUE);
}

function sendChooser(ctx: Ctx, req: Request, res: Response, view: InteractionView, locale: Locale, upstreams: Upstream[]): void {
  const notice = ctx.config.ui.notice === undefined ? undefined : localized(ctx.config.ui.notice, locale, '');
  sendPage(ctx, req, res, {
    name: 'chooser',
    locale,
    clientId: view.clientId,
    data: {
      clientName: clientNameOf(ctx, view),
      notice: notice || undefined,
      upstreams: upstreams.map((u) => {
        const name = localized(u.displayName, locale, u.id);
        return { id: u.id, type: u.type, name, initial: Array.from(name)[0]?.toUpperCase() ?? '?', href: ctx.paths.upstreamStart(view.uid, u.id) };
      }),
      abort: abortForm(ctx, req, res, view.uid),
      switchLocaleHref: switchLocaleHref(ctx, view.uid, locale),
    },
  });
}

/**
 * Session reuse after `recheckAfter`: asks the account's upstream whether the person still
 * belongs. Answers and returns true, or returns false when a fresh upstream leg should decide
 * instead (unknown account, or an upstream that cannot recheck or is not offered to this client).
 */
async function recheckSession(
  ctx: Ctx, req: Request, res: Response, input: { view: InteractionView; locale: Locale; allowed: Upstream[] },
): Promise<boolean> {
  const { view, locale, allowed } = input;
  const account = await ctx.accounts.get(view.session!.accountId);
  const upstream = account ? allowed.find((u) => u.id === account.upstream) : undefined;
  if (!account || !upstream?.recheck) return false;
  if (account.status === 'tombstoned') {
    await answerUpstreamError(ctx, req, res, new UpstreamError(upstream.id, 'not_allowed', 'the account is disabled', { hint: 'accountDisabled' }), { view, locale, upstream });
    return true;
  }
  let result: Awaited<ReturnType<NonNullable<Upstream['recheck']>>>;
  try {
    result = await upstream.recheck(account.profile);
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    ctx.metrics.recheckFinished(upstream.id, 'session', 'unavailable');
    // Retrying reloads this page, which asks again.
    await answerUpstreamError(ctx, req, res, err, { view, locale, upstream, retryHref: ctx.paths.interaction(view.uid) });
    return true;
  }
  if (result === 'revoked') {
    await ctx.accounts.markLeft(account.sub);
    ctx.metrics.recheckFinished(upstream.id, 'session', 'revoked');
    ctx.metrics.accountOffboarded(upstream.id);
    await answerUpstreamError(ctx, req, res, new UpstreamError(upstream.id, 'not_allowed', 'no longer a member', { hint: 'leftOrganisation' }), { view, locale, upstream });
    return true;
  }
  await ctx.accounts.markChecked(account.sub, result);
  ctx.metrics.recheckFinished(upstream.id, 'session', 'ok');
  seeOther(res, await ctx.interactions.finishLogin(view.uid, { accountId: account.sub, amr: [upstream.type] }));
  return true;
}
