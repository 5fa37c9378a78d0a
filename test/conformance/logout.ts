/**
 * RP-Initiated Logout 1.0 as a browser does it: GET the end_session_endpoint, then answer the
 * OP's confirmation page (its `op.logoutForm` with the xsrf field) with "sign out" or "stay".
 */
import assert from 'node:assert/strict';
import type { Browser } from '../helpers/http-browser.js';
import type { Op } from './op.js';
import { discover, frontChannel, HtmlBrowser, type Landing } from './rp.js';

export async function endSession(op: Op, params: Record<string, string>, browser: Browser = new HtmlBrowser()): Promise<Landing> {
  const { end_session_endpoint: endpoint } = await discover(op);
  const query = new URLSearchParams(params).toString();
  return frontChannel(new URL(query ? `${endpoint}?${query}` : endpoint), {}, browser);
}

/** The confirmation page's form: where it posts and its hidden fields. */
export function logoutForm(html: string): { action: string; fields: URLSearchParams } {
  const form = /<form id="op\.logoutForm"[^>]*\baction="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  assert.ok(form, 'the confirmation page carries the logout form');
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"/g)) fields.set(input[1]!, input[2]!);
  assert.ok(fields.get('xsrf'), 'the form is protected by an xsrf token');
  return { action: form[1]!.replace(/&amp;/g, '&'), fields };
}

/** Submits the confirmation page: `signOut` is the "sign out" button (logout=yes), else "stay signed in". */
export async function confirm(landing: Landing, signOut = true): Promise<Landing> {
  assert.ok(landing.page, 'a confirmation page, not a redirect');
  assert.equal(landing.page.status, 200);
  const { action, fields } = logoutForm(landing.page.html);
  if (signOut) fields.set('logout', 'yes');
  return frontChannel(
    new URL(action, landing.page.url),
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: fields.toString(),
    },
    landing.browser,
  );
}
