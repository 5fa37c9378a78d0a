/**
 * The pages oidc-provider renders itself (logout confirmation, logout done, errors), drawn by the
 * shared pages (src/pages) in the language every other page of the request speaks, with the same
 * response headers (CSP, no framing, no caching: src/pages/page-headers.ts).
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientFormActions, negotiateLocale, pageHeaders, plainPages, type Locale, type ProtocolPages } from '../pages/index.js';

type Log = { error(obj: object, msg: string): void };

/** Calls an injected page; if it throws, the plain page keeps the response free of stack traces. */
function render<K extends keyof ProtocolPages>(log: Log, pages: ProtocolPages, name: K, opts: Parameters<ProtocolPages[K]>[0]): string {
  const draw = (from: ProtocolPages) => (from[name] as (input: typeof opts) => string).call(from, opts);
  try {
    return draw(pages);
  } catch (err) {
    log.error({ err, page: name }, 'page rendering failed; serving the plain page');
    return draw(plainPages);
  }
}

/** oidc-provider's logoutSource / postLogoutSuccessSource / renderError, wired to `pages`. */
export function providerPages(pages: ProtocolPages, defaultLocale: Locale, log: Log) {
  const localeOf = (ctx: KoaContextWithOIDC) => {
    let uiLocales: unknown;
    try {
      uiLocales = ctx.oidc?.params?.ui_locales;
    } catch {
      uiLocales = undefined; // params are not assembled on every route
    }
    return negotiateLocale({ uiLocales, acceptLanguage: ctx.get('accept-language'), defaultLocale });
  };
  const clientNameOf = (ctx: KoaContextWithOIDC) => ctx.oidc?.client?.clientName ?? ctx.oidc?.client?.clientId;
  return {
    logoutSource: async (ctx: KoaContextWithOIDC, formHtml: string) => {
      const opts = { formHtml, clientName: clientNameOf(ctx), locale: localeOf(ctx) };
      // The form posts to the issuer's end-session URL ('self'), which answers 303 to the client's
      // post_logout_redirect_uri: form-action covers the whole chain, so the client's origins too.
      ctx.set(pageHeaders(clientFormActions(ctx.oidc?.client?.metadata())));
      ctx.type = 'html';
      ctx.body = render(log, pages, 'logout', opts);
    },
    postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
      const opts = { clientName: clientNameOf(ctx), locale: localeOf(ctx) };
      ctx.set(pageHeaders());
      ctx.type = 'html';
      ctx.body = render(log, pages, 'logoutSuccess', opts);
    },
    renderError: async (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) => {
      const opts = { error: out.error, description: out.error_description, locale: localeOf(ctx), status: ctx.status };
      ctx.set(pageHeaders());
      ctx.type = 'html';
      ctx.body = render(log, pages, 'error', opts);
    },
  };
}
