/**
 * The device flow (RFC 8628, src/oidc/device.ts) from both ends: the device, as kubelogin drives
 * it (github.com/int128/kubelogin pkg/oidc/client/devicecode.go over github.com/int128/oauth2dev:
 * a form POST of client_id and scope to the discovered `device_authorization_endpoint`, then
 * token polls of client_id, device_code and grant_type, the first one at once), and the person at
 * the verification page with the fetch Browser of test/helpers/http-browser.ts.
 */
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { DEVICE_CODE_GRANT } from '../../src/config/schema.js';
import type { Browser } from './http-browser.js';
import { unescapeHtml } from './pages.js';

export { DEVICE_CODE_GRANT };

/** A public device-only client, as one cluster's kubectl. */
export function deviceClient(clientId = 'tv', extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: `Cluster ${clientId}`,
    token_endpoint_auth_method: 'none' as const,
    grant_types: [DEVICE_CODE_GRANT, 'refresh_token' as const],
    skipConsent: true,
    ...extra,
  };
}

/** openid-client for a public client of `issuer` (plain http allowed: the test issuer is http). */
export function deviceRp(issuer: string, clientId: string): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
}

/** One token poll exactly as oauth2dev's RetrieveToken sends it (a public client: no secret). */
export async function pollOnce(
  issuer: string,
  clientId: string,
  deviceCode: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, device_code: deviceCode, grant_type: DEVICE_CODE_GRANT }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A verification page: its status, HTML and the form fields oidc-provider's /device reads. */
export interface DevicePage {
  url: URL;
  status: number;
  headers: Headers;
  html: string;
  action?: URL;
  xsrf?: string;
  userCode?: string;
}

export async function readPage(url: URL, response: Response): Promise<DevicePage> {
  // Empty when a redirect was stopped at (its body already drained).
  const html = response.bodyUsed ? '' : await response.text();
  const pick = (re: RegExp) => {
    const m = re.exec(html)?.[1];
    return m === undefined ? undefined : unescapeHtml(m);
  };
  const action = pick(/<form method="post" action="([^"]*)"/);
  const page: DevicePage = { url, status: response.status, headers: response.headers, html };
  if (action !== undefined) page.action = new URL(action, url);
  const xsrf = pick(/name="xsrf" value="([^"]*)"/);
  if (xsrf !== undefined) page.xsrf = xsrf;
  const userCode = pick(/name="user_code"[^>]*value="([^"]*)"/);
  if (userCode !== undefined) page.userCode = userCode;
  return page;
}

export async function openPage(browser: Browser, url: string | URL): Promise<DevicePage> {
  const target = new URL(url);
  return readPage(target, await browser.fetch(target, { headers: { accept: 'text/html' } }));
}

/**
 * Posts a verification form (`fields` besides its xsrf) and follows the redirects (the sign-in
 * behind a confirmation) until a page; `stopAt` may stop earlier (an upstream's login page).
 */
export async function submit(
  browser: Browser,
  page: DevicePage,
  fields: Record<string, string>,
  stopAt: (url: URL) => boolean = () => false,
): Promise<DevicePage> {
  assert.ok(page.action, 'the page has a form');
  const form = new URLSearchParams({ ...(page.xsrf === undefined ? {} : { xsrf: page.xsrf }), ...fields });
  const { url, response } = await browser.follow(page.action, stopAt, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: form.toString(),
  });
  return readPage(url, response);
}

/** The person types `userCode` at verification_uri; returns the confirmation page. */
export async function enterCode(browser: Browser, verificationUri: string, userCode: string): Promise<DevicePage> {
  const input = await openPage(browser, verificationUri);
  assert.equal(input.status, 200);
  return submit(browser, input, { user_code: userCode });
}
