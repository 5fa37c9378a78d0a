/**
 * Server-rendered pages (eta, autoEscape on): the interaction pages of this module and the ones
 * the protocol layer shows (logout confirmation, post-logout, OAuth error). Pages work without
 * JavaScript and load only our stylesheet. Nothing secret is ever passed to a template: callers
 * hand over names, hints and codes that are safe to show.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Config } from '../config/schema.js';
import { localized, matchLocale, negotiateLocale, SUPPORTED_LOCALES, type Locale, type LocaleInputs } from './locale.js';
import { loadMessages, type Translate } from './messages.js';
import { clientFormActions, pageHeaders } from './page-headers.js';
import { createPaths } from './paths.js';

export const PAGE_NAMES = [
  'chooser', 'consent', 'logout', 'logout-success',
  'errors/not-allowed', 'errors/ask-your-admin', 'errors/upstream-failed', 'errors/expired',
  'errors/invalid-link', 'errors/generic',
] as const;
export type PageName = (typeof PAGE_NAMES)[number];

/** Title message of each page; `{client}` and `{upstream}` come from the page data. */
const TITLES: Record<PageName, string> = {
  chooser: 'chooser.title',
  consent: 'consent.title',
  logout: 'logout.title',
  'logout-success': 'logout.successTitle',
  'errors/not-allowed': 'errors.notAllowed.title',
  'errors/ask-your-admin': 'errors.askYourAdmin.title',
  'errors/upstream-failed': 'errors.upstreamFailed.title',
  'errors/expired': 'errors.expired.title',
  'errors/invalid-link': 'errors.invalidLink.title',
  'errors/generic': '',
};

export const STYLESHEET = 'bridge.css';

export interface Pages {
  /** The language of a page: `ui_locales`, then Accept-Language, then `ui.defaultLocale`. */
  locale(inputs: Omit<LocaleInputs, 'defaultLocale'>): Locale;
  translator(locale: Locale): Translate;
  /** Whether `key` is a message id (upstream hints may be ids or literal text). */
  hasMessage(key: string): boolean;
  /** HTML of page `name`. `locale` is any BCP 47 tag; unsupported or missing ones get the default. */
  render(name: PageName, data: Record<string, unknown>, locale?: string): string;
  /** The logout confirmation around oidc-provider's own form (with its xsrf field). */
  logout(input: { formHtml: string; clientName?: string; locale?: string }): string;
  logoutSuccess(input: { clientName?: string; locale?: string }): string;
  /** An OAuth error that cannot go back to the client (bad redirect_uri, unknown client …). */
  error(input: { error: string; description?: string; locale?: string; status?: number }): string;
  /** Headers for a page; `formActions` are extra form-action sources (a client's redirect origins). */
  headers(formActions?: readonly string[]): Record<string, string>;
  /** Headers for the logout pages: their forms end in any client's post-logout redirect. */
  readonly logoutHeaders: Record<string, string>;
  readonly stylesheet: { readonly body: string; readonly etag: string; readonly href: string };
}

/** views/ of this package, found from this file whether it runs from src/ or a build directory. */
export function findViewsDir(start = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start, i = 0; i < 6; i += 1, dir = dirname(dir)) {
    const candidate = join(dir, 'views');
    if (existsSync(join(candidate, 'layout.eta'))) return candidate;
  }
  throw new Error(`views/ not found above ${start}`);
}

export function createPages(config: Config, options: { viewsDir?: string } = {}): Pages {
  const viewsDir = options.viewsDir ?? findViewsDir();
  const eta = new Eta({ views: viewsDir, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });
  const messages = loadMessages(join(viewsDir, 'locales'));
  const paths = createPaths(config.issuer);
  const css = readFileSync(join(viewsDir, 'assets', STYLESHEET), 'utf8');
  const etag = createHash('sha256').update(css).digest('base64url').slice(0, 16);
  const stylesheet = { body: css, etag, href: `${paths.asset(STYLESHEET)}?v=${etag}` };
  const defaultLocale = config.ui.defaultLocale;
  const logoutActions = [...new Set(config.clients.flatMap((c) => clientFormActions({ post_logout_redirect_uris: c.post_logout_redirect_uris })))];

  const resolve = (locale: string | undefined): Locale => (locale && matchLocale(locale)) || defaultLocale;

  function render(name: PageName, data: Record<string, unknown>, locale?: string): string {
    if (!PAGE_NAMES.includes(name)) throw new Error(`unknown page "${name}"`);
    const lang = resolve(locale);
    const t = messages.translator(lang);
    const productName = localized(config.ui.title, lang, 'Sign in');
    const titleParams = { client: data.clientName as string | undefined, upstream: data.upstreamName as string | undefined };
    const titleKey = TITLES[name] || `${String(data.messageKey ?? 'errors.generic')}.title`;
    return eta.render(name, {
      pageTitle: t(titleKey, titleParams),
      ...data,
      t, locale: lang, productName, cssHref: stylesheet.href,
      otherLocale: SUPPORTED_LOCALES.find((l) => l !== lang),
    });
  }

  return {
    locale: (inputs) => negotiateLocale({ ...inputs, defaultLocale }),
    translator: (locale) => messages.translator(locale),
    hasMessage: (key) => messages.has(key),
    render,
    logout({ formHtml, clientName, locale }) {
      const formId = /\bid="([^"]+)"/.exec(formHtml)?.[1] ?? 'op.logoutForm';
      return render('logout', { formHtml, formId, clientName }, locale);
    },
    logoutSuccess: ({ clientName, locale }) => render('logout-success', { clientName }, locale),
    error({ error, description, locale, status }) {
      const messageKey = status === 503 || error === 'temporarily_unavailable' ? 'errors.unavailable'
        : (status ?? 400) >= 500 || error === 'server_error' ? 'errors.generic' : 'errors.oauth';
      return render('errors/generic', { messageKey, error, description: messageKey === 'errors.oauth' ? description : undefined }, locale);
    },
    headers: (formActions) => pageHeaders(formActions),
    logoutHeaders: pageHeaders(logoutActions),
    stylesheet,
  };
}
