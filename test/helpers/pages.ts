/**
 * Reading the bridge's HTML pages as a person would: the texts (from the product's own message
 * catalogue in views/locales), the heading, the details an error page shows, the links and forms
 * it offers, and what it must never show (a stack trace).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadMessages } from '../../src/pages/index.js';

const messages = loadMessages(fileURLToPath(new URL('../../views/locales', import.meta.url)));

/** A page text as the pages render it (the product's catalogue and interpolation), e.g. message('zh-CN', 'errors.notAllowed.title'). */
export function message(locale: 'zh-CN' | 'en', key: string, params: Record<string, string> = {}): string {
  assert.ok(messages.has(key), `message ${key} exists`);
  return messages.translator(locale)(key, params);
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text of an HTML attribute or element: character references decoded, `&amp;` last so nothing is decoded twice. */
export function unescapeHtml(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_m, n: string) => String.fromCodePoint(Number.parseInt(n, 16)))
    .replace(/&(lt|gt|quot|apos);/g, (_m, name: string) => NAMED[name]!)
    .replace(/&amp;/g, '&');
}

export const langOf = (html: string) => /<html lang="([^"]+)"/.exec(html)?.[1];

/** The text of the page's <h1>. */
export function headingOf(html: string): string {
  return unescapeHtml(/<h1[^>]*>([\s\S]*?)<\/h1>/.exec(html)?.[1]?.trim() ?? '');
}

/** The "try again" link of an error page, if any. */
export function retryHrefOf(html: string): string | undefined {
  const href = /<a class="button button--primary" href="([^"]+)"/.exec(html)?.[1];
  return href === undefined ? undefined : unescapeHtml(href);
}

export interface PageFacts {
  title?: string;
  /** The code in the page's details block (DingTalk's errcode or v1.0 code). */
  code?: string;
  /** The reference number shown in the footer (the request id of the log lines). */
  requestId?: string;
  retryHref?: string;
  abortAction?: string;
}

export function pageFacts(html: string): PageFacts {
  const pick = (re: RegExp) => {
    const m = re.exec(html)?.[1];
    return m === undefined ? undefined : unescapeHtml(m);
  };
  const facts: PageFacts = {};
  const title = pick(/<h1 class="title" id="page-title">([^<]*)<\/h1>/);
  const detail = pick(/<p class="details__code">([^<]*)<\/p>/);
  const requestId = pick(/class="footer__ref">[^<]*?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/);
  const retryHref = pick(/<a class="button[^"]*" href="([^"]+)">/);
  const abortAction = pick(/<form method="post" action="([^"]*\/abort)">/);
  if (title !== undefined) facts.title = title;
  if (detail !== undefined) facts.code = detail.replace(/^[^：:]*[：:]\s*/, '');
  if (requestId !== undefined) facts.requestId = requestId;
  if (retryHref !== undefined) facts.retryHref = retryHref;
  if (abortAction !== undefined) facts.abortAction = abortAction;
  return facts;
}

export interface ChooserOption {
  id: string;
  href: string;
  label: string;
}

const CHOOSER_OPTION = /<a class="option" href="([^"]*\/upstream\/([^"/]+))">[\s\S]*?<span class="option__label">([^<]*)<\/span>/g;

/** The upstreams the chooser page offers. */
export function chooserOptions(html: string): ChooserOption[] {
  return [...html.matchAll(CHOOSER_OPTION)].map((m) => ({ href: m[1]!, id: decodeURIComponent(m[2]!), label: m[3]! }));
}

/** A JavaScript stack frame (`at fn (file:line:col)`), which no page may show. */
export function hasStackTrace(html: string): boolean {
  return /\bat (?:async )?[\w.<>$]+ \([^)]*:\d+:\d+\)/.test(html) || /\n\s+at [^\n]*[(:]\d+/.test(html);
}
