/**
 * DESIGN "The login, step by step", 5: the identity becomes an account, and the interaction the
 * leg belongs to is finished for it. The browser then follows the 303 to `returnTo` (/auth/<uid>),
 * where the resume cookie, scoped to that path, identifies it to oidc-provider.
 */
import type { Request, Response } from 'express';
import { AccountDisabledError } from '../accounts/errors.js';
import type { Account } from '../accounts/types.js';
import { UpstreamError, type Upstream, type UpstreamIdentity } from '../upstreams/types.js';
import type { Ctx } from './context.js';
import { sendExpired } from './interaction-page.js';
import type { Leg } from './leg-store.js';
import { isInteractionExpired } from './ports.js';
import { requestId, seeOther } from './respond.js';
import { answerUpstreamError } from './upstream-failure.js';

export async function linkAndFinish(
  ctx: Ctx, req: Request, res: Response, input: { leg: Leg; upstream: Upstream; identity: UpstreamIdentity },
): Promise<void> {
  const { leg, upstream, identity } = input;
  let account: Account;
  try {
    account = await ctx.accounts.link(identity);
  } catch (err) {
    const refusal = err instanceof AccountDisabledError
      ? new UpstreamError(upstream.id, 'not_allowed', 'the account is disabled', { hint: 'accountDisabled' }, { cause: err })
      : err;
    if (!(refusal instanceof UpstreamError)) throw err;
    ctx.metrics.loginFinished(upstream.id, refusal.reason);
    const view = await ctx.interactions.find(leg.uid);
    return answerUpstreamError(ctx, req, res, refusal, { upstream, view, locale: leg.locale });
  }
  let returnTo: string;
  try {
    returnTo = await ctx.interactions.finishLogin(leg.uid, { accountId: account.sub, amr: [upstream.type] });
  } catch (err) {
    if (!isInteractionExpired(err)) throw err;
    ctx.metrics.loginFinished(upstream.id, 'invalid_state');
    return sendExpired(ctx, req, res, leg.locale);
  }
  ctx.metrics.loginFinished(upstream.id, 'success');
  ctx.log.info({ reqId: requestId(req), uid: leg.uid, upstream: upstream.id, sub: account.sub }, 'upstream sign-in finished');
  seeOther(res, returnTo);
}
