/**
 * Server-rendered pages (eta, autoEscape on): the interaction pages (chooser, consent, their
 * errors) and the ones the protocol layer shows (logout confirmation, post-logout, OAuth error),
 * in one look. Pages work without JavaScript and load only our stylesheet; the one exception is the
 * sign-in inside the DingTalk app, whose scripts are ours (./scripts.ts) and which still offers a link. Nothing secret is ever
 * passed to a template: callers hand over names, hints and codes that are safe to show.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Config } from '../config/schema.js';
import { localized, matchLocale, SUPPORTED_LOCALES, type Locale } from './locale.js';
import { loadMessages, type Translate } from './messages.js';
import { createScripts, type Asset, type IN_APP_SCRIPT, type JSAPI_SCRIPT } from './scripts.js';

export type ScriptName = typeof IN_APP_SCRIPT | typeof JSAPI_SCRIPT;

export const PAGE_NAMES = [
  'chooser',
  'consent',
  'logout',
  'logout-success',
  'device-input',
  'device-confirm',
  'device-success',
  'dingtalk-in-app',
  'errors/not-allowed',
  'errors/ask-your-admin',
  'errors/upstream-failed',
  'errors/expired',
  'errors/invalid-link',
  'errors/generic',
] as const;
export type PageName = (typeof PAGE_NAMES)[number];

/** Title message of each page; `{client}` and `{upstream}` come from the page data. */
const TITLES: Record<PageName, string> = {
  chooser: 'chooser.title',
  consent: 'consent.title',
  logout: 'logout.title',
  'logout-success': 'logout.successTitle',
  'device-input': 'device.input.title',
  'device-confirm': 'device.confirm.title',
  'device-success': 'device.success.title',
  'dingtalk-in-app': 'inApp.title',
  'errors/not-allowed': 'errors.notAllowed.title',
  'errors/ask-your-admin': 'errors.askYourAdmin.title',
  'errors/upstream-failed': 'errors.upstreamFailed.title',
  'errors/expired': 'errors.expired.title',
  'errors/invalid-link': 'errors.invalidLink.title',
  'errors/generic': '',
};

export const STYLESHEET = 'bridge.css';

/**
 * The pages oidc-provider renders itself (its logoutSource, postLogoutSuccessSource and
 * renderError, wired in src/oidc/pages.ts) and the server's error handler shows. `locale` is any
 * BCP 47 tag; an unsupported one gets the default.
 */
export interface ProtocolPages {
  /**
   * RP-initiated logout confirmation around oidc-provider's hidden form (`<form id="op.logoutForm"
   * …>` with its xsrf field), printed unescaped, with two submit buttons bound to it:
   * `name="logout" value="yes"` (sign out everywhere) and a plain one (only leave this client).
   */
  logout(input: { formHtml: string; clientName?: string; locale: string }): string;
  logoutSuccess(input: { clientName?: string; locale: string }): string;
  /**
   * An OAuth error that cannot go back to the client (bad redirect_uri, unknown client …); never a
   * stack trace. Status 429 (a rate limit) says to wait `retryAfterSeconds` and try again.
   */
  error(input: { error: string; description?: string; locale: string; status: number; retryAfterSeconds?: number }): string;
  /**
   * The device flow's verification page (RFC 8628 §3.3): a form posting `xsrf` and `user_code` to
   * `form.action`. `problem` says why it is shown again; `error` is the OAuth error code, if any.
   */
  deviceInput(input: { form: DeviceForm; userCode?: string; problem?: DeviceProblem; error?: string; locale: string }): string;
  /**
   * Asks the person to compare the code with their device's before the sign-in starts: the same
   * form with `confirm=yes` (continue) or `abort=yes` (cancel: the device gets access_denied).
   */
  deviceConfirm(input: { form: DeviceForm; userCode: string; clientName: string; locale: string }): string;
  deviceSuccess(input: { clientName?: string; locale: string }): string;
}

/** Where the device forms post (oidc-provider's /device) and its CSRF token. */
export interface DeviceForm {
  action: string;
  xsrf: string;
}

/** Why the verification page is shown again (views/locales: `device.problems.*`). */
export const DEVICE_PROBLEMS = ['wrongCode', 'expired', 'used', 'aborted', 'failed', 'form'] as const;
export type DeviceProblem = (typeof DEVICE_PROBLEMS)[number];

export interface Pages extends ProtocolPages {
  translator(locale: Locale): Translate;
  /** Whether `key` is a message id (upstream hints may be ids or literal text). */
  hasMessage(key: string): boolean;
  /** HTML of page `name`. `locale` is any BCP 47 tag; unsupported or missing ones get the default. */
  render(name: PageName, data: Record<string, unknown>, locale?: string): string;
  readonly stylesheet: { readonly body: string; readonly etag: string; readonly href: string };
  /** The in-app sign-in page's scripts (./scripts.ts), built at first use. */
  script(name: ScriptName): Asset;
}

/** views/ of this package, found from this file whether it runs from src/ or a build directory. */
export function findViewsDir(start = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start, i = 0; i < 6; i += 1, dir = dirname(dir)) {
    const candidate = join(dir, 'views');
    if (existsSync(join(candidate, 'layout.eta'))) return candidate;
  }
  throw new Error(`views/ not found above ${start}`);
}

export function createPages(config: Pick<Config, 'issuer' | 'ui'>, options: { viewsDir?: string } = {}): Pages {
  const viewsDir = options.viewsDir ?? findViewsDir();
  const eta = new Eta({ views: viewsDir, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });
  const messages = loadMessages(join(viewsDir, 'locales'));
  const css = readFileSync(join(viewsDir, 'assets', STYLESHEET), 'utf8');
  const etag = createHash('sha256').update(css).digest('base64url').slice(0, 16);
  // Served by the interaction routes, which live under the issuer's path.
  const base = new URL(config.issuer).pathname.replace(/\/+$/, '');
  const stylesheet = { body: css, etag, href: `${base}/assets/${STYLESHEET}?v=${etag}` };
  const defaultLocale = config.ui.defaultLocale;

  const resolve = (locale: string | undefined): Locale => (locale && matchLocale(locale)) || defaultLocale;

  function render(name: PageName, data: Record<string, unknown>, locale?: string): string {
    if (!PAGE_NAMES.includes(name)) throw new Error(`unknown page "${name}"`);
    const lang = resolve(locale);
    const t = messages.translator(lang);
    const productName = localized(config.ui.title, lang, 'Sign in');
    const titleParams = { client: data.clientName as string | undefined, upstream: data.upstreamName as string | undefined };
    const titleKey = TITLES[name] || `${typeof data.messageKey === 'string' ? data.messageKey : 'errors.generic'}.title`;
    return eta.render(name, {
      pageTitle: t(titleKey, titleParams),
      ...data,
      t,
      locale: lang,
      productName,
      cssHref: stylesheet.href,
      otherLocale: SUPPORTED_LOCALES.find((l) => l !== lang),
    });
  }

  return {
    translator: (locale) => messages.translator(locale),
    hasMessage: (key) => messages.has(key),
    render,
    logout({ formHtml, clientName, locale }) {
      const formId = /\bid="([^"]+)"/.exec(formHtml)?.[1] ?? 'op.logoutForm';
      return render('logout', { formHtml, formId, clientName }, locale);
    },
    logoutSuccess: ({ clientName, locale }) => render('logout-success', { clientName }, locale),
    error({ error, description, locale, status, retryAfterSeconds }) {
      if (status === 429) {
        return render(
          'errors/generic',
          { messageKey: 'errors.tooManyRequests', messageParams: { seconds: retryAfterSeconds ?? 60 } },
          locale,
        );
      }
      const messageKey =
        status === 503 || error === 'temporarily_unavailable'
          ? 'errors.unavailable'
          : status >= 500 || error === 'server_error'
            ? 'errors.generic'
            : 'errors.oauth';
      return render('errors/generic', { messageKey, error, description: messageKey === 'errors.oauth' ? description : undefined }, locale);
    },
    deviceInput: ({ form, userCode, problem, error, locale }) => render('device-input', { form, userCode, problem, error }, locale),
    deviceConfirm: ({ form, userCode, clientName, locale }) => render('device-confirm', { form, userCode, clientName }, locale),
    deviceSuccess: ({ clientName, locale }) => render('device-success', { clientName }, locale),
    stylesheet,
    script: createScripts(viewsDir, base),
  };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function plainPage(locale: string, title: string, body: string): string {
  return (
    `<!DOCTYPE html><html lang="${escapeHtml(locale)}"><head><meta charset="utf-8">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title></head><body>${body}</body></html>`
  );
}

const zh = (locale: string) => matchLocale(locale) === 'zh-CN';

function plainDeviceForm(form: DeviceForm, fields: string, buttons: string): string {
  return (
    `<form method="post" action="${escapeHtml(form.action)}"><input type="hidden" name="xsrf" value="${escapeHtml(form.xsrf)}">` +
    `${fields}${buttons}</form>`
  );
}

/** Template-free pages: the fallback should the real ones fail to render, and the default where none are injected (tests). */
export const plainPages: ProtocolPages = {
  logout({ formHtml, clientName, locale }) {
    const who = clientName ? ` (${escapeHtml(clientName)})` : '';
    return plainPage(
      locale,
      zh(locale) ? '退出登录' : 'Sign out',
      `<h1>${zh(locale) ? '要退出登录吗？' : 'Sign out?'}${who}</h1>${formHtml}` +
        `<button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">${zh(locale) ? '退出' : 'Yes, sign me out'}</button>` +
        `<button type="submit" form="op.logoutForm">${zh(locale) ? '保持登录' : 'No, stay signed in'}</button>`,
    );
  },
  logoutSuccess({ clientName, locale }) {
    const who = clientName ? ` (${escapeHtml(clientName)})` : '';
    return plainPage(locale, zh(locale) ? '已退出' : 'Signed out', `<h1>${zh(locale) ? '已退出登录' : 'You are signed out'}${who}</h1>`);
  },
  error({ error, description, locale, status, retryAfterSeconds }) {
    if (status === 429) {
      const seconds = retryAfterSeconds ?? 60;
      return plainPage(
        locale,
        zh(locale) ? '请求过多' : 'Too many requests',
        `<h1>${zh(locale) ? '请求过多' : 'Too many requests'}</h1><p>${zh(locale) ? `请等待 ${seconds} 秒后重试。` : `Wait ${seconds} seconds, then try again.`}</p>`,
      );
    }
    return plainPage(
      locale,
      zh(locale) ? '出错了' : 'Something went wrong',
      `<h1>${zh(locale) ? '出错了' : 'Something went wrong'}</h1>` +
        `<p><code>${escapeHtml(error)}</code> (${status})</p>${description ? `<p>${escapeHtml(description)}</p>` : ''}`,
    );
  },
  deviceInput({ form, userCode, problem, error, locale }) {
    const title = zh(locale) ? '输入验证码' : 'Enter the code';
    const note = problem ? `<p>${escapeHtml(problem)}${error ? ` (<code>${escapeHtml(error)}</code>)` : ''}</p>` : '';
    return plainPage(
      locale,
      title,
      `<h1>${title}</h1>${note}` +
        plainDeviceForm(
          form,
          `<input name="user_code" value="${escapeHtml(userCode ?? '')}" autocomplete="off" required autofocus>`,
          `<button type="submit">${zh(locale) ? '继续' : 'Continue'}</button>`,
        ),
    );
  },
  deviceConfirm({ form, userCode, clientName, locale }) {
    const title = zh(locale) ? `要登录 ${clientName} 吗？` : `Sign in to ${clientName}?`;
    return plainPage(
      locale,
      title,
      `<h1>${escapeHtml(title)}</h1><p><code>${escapeHtml(userCode)}</code></p>` +
        plainDeviceForm(
          form,
          `<input type="hidden" name="user_code" value="${escapeHtml(userCode)}">`,
          `<button type="submit" name="confirm" value="yes" autofocus>${zh(locale) ? '继续' : 'Continue'}</button>` +
            `<button type="submit" name="abort" value="yes">${zh(locale) ? '取消' : 'Cancel'}</button>`,
        ),
    );
  },
  deviceSuccess({ clientName, locale }) {
    const who = clientName ? ` (${escapeHtml(clientName)})` : '';
    return plainPage(
      locale,
      zh(locale) ? '设备已登录' : 'Signed in',
      `<h1>${zh(locale) ? '设备已登录' : 'Your device is signed in'}${who}</h1>`,
    );
  },
};
