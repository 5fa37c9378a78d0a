/**
 * The login prompt (docs/architecture.md, "A login, step by step", steps 1–2): recheck a reused
 * session when only its membership check is due, else go to the upstream the request names or the
 * client's only one, else show the chooser. An unknown or disallowed `upstream` is
 * `invalid_request`, never a silent fallback.
 */
import { RECHECK_DUE } from '../oidc/interaction-view.js';
import { localized } from '../pages/index.js';
import { asUpstreamError, UpstreamError, type Upstream } from '../upstreams/types.js';
import { abortForm, clientNameOf, describable, seeOther, sendPage, switchLocaleHref } from './answer.js';
import { current, offeredUpstreams, stateOf, type Step } from './context.js';
import type { InteractionView } from './ports.js';
import { silentRecheckOf, startSilentRecheck } from './silent-recheck.js';
import { startLeg } from './upstream-leg.js';

/** prompt=login, max_age or a missing session force a fresh upstream leg; only a due recheck alone can be answered here. */
function isOnlyRecheck(view: InteractionView): boolean {
  return view.session !== undefined && view.reasons.length > 0 && view.reasons.every((r) => r === RECHECK_DUE);
}

/**
 * Session reuse after `recheckAfter`: asks the account's upstream, through the same check as a
 * refresh (src/accounts/membership.ts), whether the person still belongs. Within `recheckGrace` an
 * upstream that cannot answer does not stop the person; past it they see the upstream's failure.
 * An upstream that cannot be asked (oauth2, oidc) is due too: with `silentRecheck` a `prompt=none`
 * leg asks it without a page first, else (or when that fails) the person goes straight through it
 * again, a new leg that its own session usually answers without a page. Unknown accounts,
 * upstreams not offered to this client, and an identity that now links elsewhere go on to a fresh
 * upstream leg the usual way.
 */
export const recheckSession: Step = async (ctx, req, res, next) => {
  const { view } = current(res);
  if (view.prompt !== 'login' || !isOnlyRecheck(view)) return next();
  const account = await ctx.accounts.get(view.session!.accountId);
  const upstream = account ? offeredUpstreams(ctx, view).find((u) => u.id === account.upstream) : undefined;
  if (!account || !upstream) return next();
  if (!upstream.recheck) {
    // Asked without a page first where the upstream answers prompt=none (src/interactions/silent-recheck.ts).
    if (silentRecheckOf(ctx, upstream)) return startSilentRecheck(ctx, req, res, view, account, upstream);
    stateOf(res).upstream = upstream;
    return startLeg(ctx, req, res, next);
  }
  stateOf(res).upstream = upstream;
  const { outcome, failure } = await ctx.membership.recheckNow(account);
  switch (outcome) {
    case 'ok':
    case 'unavailable':
      if (outcome === 'unavailable')
        ctx.log.info(
          { uid: view.uid, upstream: upstream.id, sub: account.sub },
          'upstream could not recheck; last check within its grace: session reused',
        );
      // Nobody authenticated just now: auth_time stays the session's login time.
      return seeOther(
        res,
        await ctx.interactions.finishLogin(view.uid, {
          accountId: account.sub,
          amr: [upstream.type],
          ...(view.session!.loginTs === undefined ? {} : { authTime: view.session!.loginTs }),
        }),
      );
    case 'revoked':
      throw account.status === 'tombstoned'
        ? new UpstreamError(upstream.id, 'not_allowed', 'the account is disabled', { hint: 'accountDisabled' })
        : new UpstreamError(upstream.id, 'not_allowed', 'no longer a member', { hint: 'leftOrganisation' });
    case 'expired':
      if (failure === undefined) return next();
      // Retrying reloads this page, which asks again.
      throw asUpstreamError(upstream.id, failure);
  }
};

export type UpstreamChoice =
  | { kind: 'start'; upstream: Upstream }
  | { kind: 'invalid'; requested: string }
  | { kind: 'choose'; upstreams: Upstream[] }
  | { kind: 'none' };

export function chooseUpstream(requested: unknown, offered: readonly Upstream[]): UpstreamChoice {
  if (requested !== undefined && requested !== '') {
    const match = typeof requested === 'string' ? offered.find((u) => u.id === requested) : undefined;
    // A repeated parameter arrives as an array: named as given, never matched.
    return match
      ? { kind: 'start', upstream: match }
      : {
          kind: 'invalid',
          requested:
            typeof requested === 'string'
              ? requested
              : [requested]
                  .flat()
                  .map((v) => (typeof v === 'string' ? v : '?'))
                  .join(','),
        };
  }
  if (offered.length === 0) return { kind: 'none' };
  if (offered.length === 1) return { kind: 'start', upstream: offered[0]! };
  return { kind: 'choose', upstreams: [...offered] };
}

/**
 * The upstream `upstream=` names or the client's only one: its leg starts here, without the hop
 * through the start route (`startLeg`); the chooser (next step) otherwise.
 */
export const goToUpstream: Step = async (ctx, req, res, next) => {
  const { view } = current(res);
  if (view.prompt !== 'login') return next();
  const choice = chooseUpstream(view.params.upstream, offeredUpstreams(ctx, view));
  switch (choice.kind) {
    case 'invalid':
      return seeOther(
        res,
        await ctx.interactions.finishError(view.uid, 'invalid_request', `unknown upstream: ${describable(choice.requested)}`),
      );
    case 'start':
      stateOf(res).upstream = choice.upstream;
      return startLeg(ctx, req, res, next);
    case 'none':
      // Config validation makes this unreachable unless every allowed upstream failed to load.
      throw new Error(`no upstream available for client ${view.clientId}`);
    case 'choose':
      return next();
  }
};

export const showChooser: Step = (ctx, req, res, next) => {
  const { view, locale } = current(res);
  if (view.prompt !== 'login') return next();
  const notice = ctx.config.ui.notice === undefined ? undefined : localized(ctx.config.ui.notice, locale, '');
  sendPage(ctx, req, res, {
    name: 'chooser',
    locale,
    clientId: view.clientId,
    data: {
      clientName: clientNameOf(ctx, view),
      notice: notice || undefined,
      upstreams: offeredUpstreams(ctx, view).map((u) => {
        const name = localized(u.displayName, locale, u.id);
        return {
          id: u.id,
          type: u.type,
          name,
          initial: Array.from(name)[0]?.toUpperCase() ?? '?',
          href: ctx.paths.upstreamStart(view.uid, u.id),
        };
      }),
      abort: abortForm(ctx, req, res, view.uid),
      switchLocaleHref: switchLocaleHref(ctx, view.uid, locale),
    },
  });
};
