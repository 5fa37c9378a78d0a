/**
 * Reading the OP's pages as a person would: the language they speak, their heading, the OAuth
 * error code an error page shows, and that they leak nothing (stack traces, tokens).
 */
import assert from 'node:assert/strict';
import { hasStackTrace, message } from '../helpers/pages.js';

export { headingOf, langOf } from '../helpers/pages.js';

/** A page text in `locale` as the product renders it (its own catalogue and interpolation). */
export const text = message;

/** An HTML error page (not JSON, not a redirect) naming `error` when given, with no stack trace and no JWT. */
export function assertErrorPage(page: { status: number; html: string } | undefined, error?: string): void {
  assert.ok(page, 'the OP shows a page instead of redirecting');
  assert.equal(page.status, 400);
  assert.match(page.html, /^<!DOCTYPE html>/i, 'an HTML page');
  if (error) assert.ok(page.html.includes(error), `the page names ${error}`);
  assert.ok(!hasStackTrace(page.html), 'no stack trace');
  assert.doesNotMatch(page.html, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/, 'no JWT echoed');
}
