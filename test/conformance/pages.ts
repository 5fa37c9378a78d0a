/**
 * Reading the OP's pages as a person would: the language they speak, their heading, the OAuth
 * error code an error page shows, and that they leak nothing (stack traces, tokens).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadMessages } from '../../src/pages/index.js';

const messages = loadMessages(fileURLToPath(new URL('../../views/locales', import.meta.url)));

/** A page text in `locale` as the product renders it (its own catalogue and interpolation). */
export function text(locale: 'zh-CN' | 'en', key: string, params: Record<string, string> = {}): string {
  assert.ok(messages.has(key), `message ${key} exists`);
  return messages.translator(locale)(key, params);
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescapeHtml = (s: string) => s.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]!);

export const langOf = (html: string) => /<html lang="([^"]+)"/.exec(html)?.[1];
export const headingOf = (html: string) => unescapeHtml(/<h1[^>]*>([\s\S]*?)<\/h1>/.exec(html)?.[1]?.trim() ?? '');

/** An HTML error page (not JSON, not a redirect) naming `error` when given, with no stack trace and no JWT. */
export function assertErrorPage(page: { status: number; html: string } | undefined, error?: string): void {
  assert.ok(page, 'the OP shows a page instead of redirecting');
  assert.equal(page.status, 400);
  assert.match(page.html, /^<!DOCTYPE html>/i, 'an HTML page');
  if (error) assert.ok(page.html.includes(error), `the page names ${error}`);
  assert.doesNotMatch(page.html, /\n\s+at [^\n]+[(:]\d+/, 'no stack trace');
  assert.doesNotMatch(page.html, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/, 'no JWT echoed');
}
