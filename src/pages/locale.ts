/**
 * Which language a page speaks: the first supported entry of `ui_locales` (OIDC Core 3.1.2.1),
 * then the browser's Accept-Language (RFC 9110 12.5.4, by q-value), then `ui.defaultLocale`.
 * The one negotiation of every page: interaction pages, oidc-provider's error and logout pages,
 * and the server's error answers.
 */
import { SUPPORTED_LOCALES, type DisplayName } from '../config/schema.js';

export { SUPPORTED_LOCALES };
export type Locale = (typeof SUPPORTED_LOCALES)[number];

/**
 * The supported locale a BCP 47 tag asks for, if any. Every Chinese variant maps to zh-CN (the only
 * Chinese we ship: closer for a zh-TW reader than English), every English one to en.
 */
export function matchLocale(tag: string): Locale | undefined {
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  if (primary === 'zh') return 'zh-CN';
  if (primary === 'en') return 'en';
  return undefined;
}

/** Accept-Language entries, best first; `*` and q=0 entries are dropped. */
export function parseAcceptLanguage(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
      const weight = q === undefined ? 1 : Number(q);
      return { tag: tag.trim(), weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((e) => e.tag !== '' && e.tag !== '*' && e.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .map((e) => e.tag);
}

export interface LocaleInputs {
  /** The `ui_locales` authorization parameter: space-separated tags in order of preference. */
  uiLocales?: unknown;
  acceptLanguage?: string | undefined;
  defaultLocale: Locale;
}

export function negotiateLocale({ uiLocales, acceptLanguage, defaultLocale }: LocaleInputs): Locale {
  const requested = typeof uiLocales === 'string' ? uiLocales.split(/\s+/).filter(Boolean) : [];
  for (const tag of [...requested, ...parseAcceptLanguage(acceptLanguage)]) {
    const locale = matchLocale(tag);
    if (locale) return locale;
  }
  return defaultLocale;
}

/** A configured display name in `locale`: its exact entry, then one of the same language, then English, then any. */
export function localized(name: DisplayName | undefined, locale: Locale, fallback: string): string {
  if (name === undefined) return fallback;
  if (typeof name === 'string') return name;
  const entries = Object.entries(name);
  const exact = entries.find(([tag]) => tag.toLowerCase() === locale.toLowerCase());
  const sameLanguage = entries.find(([tag]) => matchLocale(tag) === locale);
  const english = entries.find(([tag]) => matchLocale(tag) === 'en');
  return (exact ?? sameLanguage ?? english ?? entries[0])?.[1] ?? fallback;
}
