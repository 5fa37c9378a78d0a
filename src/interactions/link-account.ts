/** Linking an upstream identity to its account, as the login steps need it (src/interactions/upstream-leg.ts, silent-recheck.ts). */
import { AccountDisabledError, AccountLeftError, SubjectCollisionError } from '../accounts/errors.js';
import { UpstreamError, type Upstream, type UpstreamIdentity } from '../upstreams/types.js';
import type { Ctx } from './context.js';

/**
 * `accounts.link`, with a disabled or departed account as the not-allowed page and a subject
 * collision (legacySubject) as the ask-your-admin page, each with its metric: never a 500.
 */
export async function linkOrRefuse(
  ctx: Ctx,
  upstream: Upstream,
  identity: UpstreamIdentity,
  options: { confirmsMembership: boolean },
): Promise<Awaited<ReturnType<Ctx['accounts']['link']>>> {
  try {
    return await ctx.accounts.link(identity, options);
  } catch (err) {
    const refused =
      err instanceof AccountDisabledError
        ? new UpstreamError(upstream.id, 'not_allowed', 'the account is disabled', { hint: 'accountDisabled' }, { cause: err })
        : err instanceof AccountLeftError
          ? new UpstreamError(upstream.id, 'not_allowed', 'the account was marked left', { hint: 'leftOrganisation' }, { cause: err })
          : err instanceof SubjectCollisionError
            ? new UpstreamError(upstream.id, 'misconfigured', err.message, undefined, { cause: err })
            : err;
    if (refused instanceof UpstreamError) ctx.metrics.loginFinished(upstream.id, refused.reason);
    throw refused;
  }
}
