/**
 * The consent prompt (docs/architecture.md, "A login, step by step", step 6) and the two form
 * posts: allow, and abort (deny on the consent page, cancel on the chooser and error pages). Both
 * forms carry a CSRF token bound to the interaction and this browser; a bad one changes nothing and
 * gets a 403 page.
 */
import { SCOPE_CLAIMS, SCOPES } from '../oidc/scopes.js';
import type { Params } from '../pages/index.js';
import { clientNameOf, PageError, seeOther, sendPage, switchLocaleHref } from './answer.js';
import { current, type Step } from './context.js';
import { CSRF_FIELD } from './csrf.js';

/** First-party clients: the operator vouches for them (docs/architecture.md, "Decisions"), also on prompt=consent. */
export const skipConsent: Step = async (ctx, _req, res, next) => {
  const { view } = current(res);
  if (view.prompt !== 'consent' || !ctx.interactions.clientExtras(view.clientId)?.skipConsent) return next();
  seeOther(res, await ctx.interactions.finishConsent(view.uid));
};

export const showConsent: Step = async (ctx, req, res, next) => {
  const { view, locale } = current(res);
  if (view.prompt !== 'consent') return next();
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
      items: describeConsent(view.missingScopes, view.missingClaims, (key) => ctx.pages.hasMessage(key)),
      allowAction: ctx.paths.consent(view.uid),
      denyAction: ctx.paths.abort(view.uid),
      csrf: ctx.csrf.issue(req, res, view.uid),
      switchLocaleHref: switchLocaleHref(ctx, view.uid, locale),
    },
  });
};

function displayAccount(name: string | undefined, username: string): string {
  return name && name !== username ? `${name} (${username})` : username;
}

export interface ConsentItem {
  key: string;
  params?: Params;
}

/** Scopes in the order people read them: those releasing claims as src/oidc/scopes.ts lists them, then the rest (offline_access). */
const READING_ORDER: readonly string[] = [...SCOPES.filter((s) => s in SCOPE_CLAIMS), ...SCOPES.filter((s) => !(s in SCOPE_CLAIMS))];
/** The scope whose words already cover a claim. */
const CLAIM_SCOPE = new Map<string, string>(
  Object.entries(SCOPE_CLAIMS).flatMap(([scope, claims]) => claims.map((claim) => [claim, scope] as const)),
);

/**
 * What a consent page lists: each scope the client asks for, in words, then each claim asked for
 * on its own (the `claims` parameter) that no listed scope covers and that has words of its own
 * (`consent.claims.*`); claims that say nothing alone (sub, email_verified …) are left out.
 */
export function describeConsent(scopes: readonly string[], claims: readonly string[], hasMessage: (key: string) => boolean): ConsentItem[] {
  const asked = new Set(scopes);
  const ordered = [...READING_ORDER.filter((s) => asked.has(s)), ...scopes.filter((s) => !READING_ORDER.includes(s))];
  const items: ConsentItem[] = ordered.map((scope) =>
    READING_ORDER.includes(scope) ? { key: `consent.scopes.${scope}` } : { key: 'consent.otherScope', params: { scope } },
  );
  const seen = new Set<string>();
  for (const claim of claims) {
    const covering = CLAIM_SCOPE.get(claim);
    if ((covering && asked.has(covering)) || seen.has(claim)) continue;
    seen.add(claim);
    if (hasMessage(`consent.claims.${claim}`)) items.push({ key: `consent.claims.${claim}` });
    // Every claim the bridge issues belongs to a scope; one it does not know is named as asked.
    else if (!covering) items.push({ key: 'consent.otherClaim', params: { claim } });
  }
  return items;
}

/** A form post's CSRF token must be this browser's for this interaction. */
export const checkCsrf: Step = (ctx, req, _res, next) => {
  const uid = String(req.params.uid);
  if (ctx.csrf.verify(req, uid, (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD])) return next();
  ctx.log.warn({ uid }, 'interaction form refused: bad CSRF token');
  throw new PageError(403, 'errors.forbidden', 'bad CSRF token');
};

/** POST /interaction/:uid/consent */
export const grantConsent: Step = async (ctx, _req, res) => {
  const { view } = current(res);
  // A second tab or a double click after the prompt moved on: show whatever is current.
  if (view.prompt !== 'consent') return seeOther(res, ctx.paths.interaction(view.uid));
  seeOther(res, await ctx.interactions.finishConsent(view.uid));
};

/** POST /interaction/:uid/abort */
export const abortInteraction: Step = async (ctx, _req, res) => {
  const { view } = current(res);
  seeOther(res, await ctx.interactions.finishError(view.uid, 'access_denied', 'the user cancelled the sign-in'));
};
