import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The pages oidc-provider renders itself (logout confirmation, logout done, errors), drawn by
 * injected functions so they share the look of the interaction pages. Each returns a complete
 * HTML document; every value it prints must be escaped by the renderer.
 */
export interface Pages {
  /**
   * RP-initiated logout confirmation. `formHtml` is oidc-provider's hidden form
   * (`<form id="op.logoutForm" …>` with its xsrf field); the page must print it unescaped and
   * offer two submit buttons bound to it: `<button form="op.logoutForm" name="logout" value="yes">`
   * (sign out everywhere) and `<button form="op.logoutForm">` (only leave this client).
   */
  logout(opts: { formHtml: string; clientName?: string; locale: string }): string;
  logoutSuccess(opts: { clientName?: string; locale: string }): string;
  /** `error` is the OAuth error code, `description` its client-safe text; never a stack trace. */
  error(opts: { error: string; description?: string; locale: string; status: number }): string;
}

export const SUPPORTED_LOCALES = ['zh-CN', 'en'] as const;

/** The first supported language of `ui_locales` (space-separated), else of Accept-Language, else the fallback. */
export function pickLocale(uiLocales: unknown, acceptLanguage: string | undefined, fallback: string): string {
  const wanted = [
    ...(typeof uiLocales === 'string' ? uiLocales.split(' ') : []),
    ...(acceptLanguage ?? '').split(',').map((part) => part.split(';')[0]!.trim()),
  ].filter(Boolean);
  for (const tag of wanted) {
    const lower = tag.toLowerCase();
    const exact = SUPPORTED_LOCALES.find((l) => l.toLowerCase() === lower);
    if (exact) return exact;
    const primary = SUPPORTED_LOCALES.find((l) => l.toLowerCase().split('-')[0] === lower.split('-')[0]);
    if (primary) return primary;
  }
  return fallback;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function page(locale: string, title: string, body: string): string {
  return `<!DOCTYPE html><html lang="${escapeHtml(locale)}"><head><meta charset="utf-8">`
    + '<meta name="viewport" content="width=device-width, initial-scale=1">'
    + `<title>${escapeHtml(title)}</title></head><body>${body}</body></html>`;
}

const zh = (locale: string) => locale === 'zh-CN';

/** Plain pages, used when none are injected (tests, and a fallback should the real ones fail). */
export const defaultPages: Pages = {
  logout({ formHtml, clientName, locale }) {
    const who = clientName ? ` (${escapeHtml(clientName)})` : '';
    return page(locale, zh(locale) ? '退出登录' : 'Sign out', `<h1>${zh(locale) ? '要退出登录吗？' : 'Sign out?'}${who}</h1>${formHtml}`
      + `<button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">${zh(locale) ? '退出' : 'Yes, sign me out'}</button>`
      + `<button type="submit" form="op.logoutForm">${zh(locale) ? '保持登录' : 'No, stay signed in'}</button>`);
  },
  logoutSuccess({ clientName, locale }) {
    const who = clientName ? ` (${escapeHtml(clientName)})` : '';
    return page(locale, zh(locale) ? '已退出' : 'Signed out', `<h1>${zh(locale) ? '已退出登录' : 'You are signed out'}${who}</h1>`);
  },
  error({ error, description, locale, status }) {
    return page(locale, zh(locale) ? '出错了' : 'Something went wrong', `<h1>${zh(locale) ? '出错了' : 'Something went wrong'}</h1>`
      + `<p><code>${escapeHtml(error)}</code> (${status})</p>${description ? `<p>${escapeHtml(description)}</p>` : ''}`);
  },
};

type Log = { error(obj: object, msg: string): void };

/** Calls an injected page; if it throws, the plain default keeps the response free of stack traces. */
function render<T>(log: Log, name: keyof Pages, injected: (opts: T) => string, fallback: (opts: T) => string, opts: T): string {
  try {
    return injected(opts);
  } catch (err) {
    log.error({ err, page: name }, 'page rendering failed; serving the plain page');
    return fallback(opts);
  }
}

/** oidc-provider's logoutSource / postLogoutSuccessSource / renderError, wired to `pages`. */
export function providerPages(pages: Pages, defaultLocale: string, log: Log) {
  const localeOf = (ctx: KoaContextWithOIDC) => {
    let uiLocales: unknown;
    try {
      uiLocales = ctx.oidc?.params?.ui_locales;
    } catch {
      uiLocales = undefined; // params are not assembled on every route
    }
    return pickLocale(uiLocales, ctx.get('accept-language'), defaultLocale);
  };
  const clientNameOf = (ctx: KoaContextWithOIDC) => ctx.oidc?.client?.clientName ?? ctx.oidc?.client?.clientId;
  return {
    async logoutSource(ctx: KoaContextWithOIDC, formHtml: string) {
      const opts = { formHtml, clientName: clientNameOf(ctx), locale: localeOf(ctx) };
      ctx.type = 'html';
      ctx.body = render(log, 'logout', pages.logout, defaultPages.logout, opts);
    },
    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      const opts = { clientName: clientNameOf(ctx), locale: localeOf(ctx) };
      ctx.type = 'html';
      ctx.body = render(log, 'logoutSuccess', pages.logoutSuccess, defaultPages.logoutSuccess, opts);
    },
    async renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
      const opts = { error: out.error, description: out.error_description, locale: localeOf(ctx), status: ctx.status };
      ctx.type = 'html';
      ctx.body = render(log, 'error', pages.error, defaultPages.error, opts);
    },
  };
}
