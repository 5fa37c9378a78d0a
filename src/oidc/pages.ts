/**
 * The pages oidc-provider renders itself (logout confirmation, logout done, errors, and the device
 * flow's pages in src/oidc/device.ts), drawn by the shared pages (src/pages) in the language every
 * other page of the request speaks, with the same response headers (CSP, no framing, no caching:
 * src/pages/page-headers.ts).
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

/** What every page oidc-provider shows needs: the request's language, and drawing a page into the response. */
export function pageWriter(pages: ProtocolPages, defaultLocale: Locale, log: Log) {
  return {
    localeOf: (ctx: KoaContextWithOIDC): Locale => {
      let uiLocales: unknown;
      try {
        uiLocales = ctx.oidc?.params?.ui_locales;
      } catch {
        uiLocales = undefined; // params are not assembled on every route
      }
      return negotiateLocale({ uiLocales, acceptLanguage: ctx.get('accept-language'), defaultLocale });
    },
    /** Sets the page headers (`formActions` widen form-action) and the HTML of page `name`. */
    write: <K extends keyof ProtocolPages>(
      ctx: KoaContextWithOIDC,
      name: K,
      opts: Parameters<ProtocolPages[K]>[0],
      formActions: readonly string[] = [],
    ): void => {
      ctx.set(pageHeaders(formActions));
      ctx.type = 'html';
      ctx.body = render(log, pages, name, opts);
    },
  };
}
export type PageWriter = ReturnType<typeof pageWriter>;

export const clientNameOf = (ctx: KoaContextWithOIDC) => ctx.oidc?.client?.clientName ?? ctx.oidc?.client?.clientId;

/** oidc-provider's logoutSource / postLogoutSuccessSource / renderError, wired to `pages`. */
export function providerPages(writer: PageWriter) {
  const { localeOf, write } = writer;
  return {
    logoutSource: async (ctx: KoaContextWithOIDC, formHtml: string) => {
      // The form posts to the issuer's end-session URL ('self'), which answers 303 to the client's
      // post_logout_redirect_uri: form-action covers the whole chain, so the client's origins too.
      write(
        ctx,
        'logout',
        { formHtml, clientName: clientNameOf(ctx), locale: localeOf(ctx) },
        clientFormActions(ctx.oidc?.client?.metadata()),
      );
    },
    postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
      write(ctx, 'logoutSuccess', { clientName: clientNameOf(ctx), locale: localeOf(ctx) });
    },
    renderError: async (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) => {
      write(ctx, 'error', { error: out.error, description: out.error_description, locale: localeOf(ctx), status: ctx.status });
    },
  };
}
