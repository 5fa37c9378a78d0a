/**
 * The device authorization grant (RFC 8628; src/oidc/device.ts, `features.deviceFlow` in
 * src/oidc/configuration.ts) on an upstream-less bridge, whose auto-login router signs the person
 * in: discovery, which clients may use it, the verification pages and their CSRF token, single-use
 * device codes, expiry, slow_down and the person cancelling. The DingTalk sign-in behind it, and
 * Chromium, are in test/e2e/device-flow.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createPages } from '../../src/pages/index.js';
import { startBridge, TEST_CLIENTS, type Bridge } from '../helpers/bridge.js';
import { clockPast } from '../helpers/clock.js';
import { DEVICE_CODE_GRANT, deviceClient, deviceRp, enterCode, openPage, pollOnce, submit } from '../helpers/device-flow.js';
import { Browser } from '../helpers/http-browser.js';
import { hasStackTrace, headingOf, message } from '../helpers/pages.js';
import { postForm } from '../helpers/oidc-rp.js';

const pages = createPages({ issuer: 'http://127.0.0.1', ui: { defaultLocale: 'en', title: 'Sign in' } });
const INTERVAL = 1;

function start(patch: Record<string, unknown> = {}) {
  return startBridge({
    clients: [...TEST_CLIENTS, deviceClient('tv'), deviceClient('tv-b')],
    pages,
    configPatch: { deviceFlow: { interval: INTERVAL }, ui: { defaultLocale: 'en' }, ...patch },
  });
}

async function initiate(bridge: Bridge, clientId = 'tv', scope = 'openid profile groups') {
  return client.initiateDeviceAuthorization(await deviceRp(bridge.issuer, clientId), { scope });
}

describe('device flow', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await start();
  });
  after(() => bridge.close());

  it('is advertised in discovery, with the standard endpoints', async () => {
    const discovery = (await (await fetch(`${bridge.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(discovery.device_authorization_endpoint, `${bridge.issuer}/device/auth`);
    assert.ok((discovery.grant_types_supported as string[]).includes(DEVICE_CODE_GRANT));
  });

  it('answers with a user code, the verification URIs and the polling interval', async () => {
    const response = await initiate(bridge);
    assert.match(response.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(response.verification_uri, `${bridge.issuer}/device`);
    assert.equal(response.verification_uri_complete, `${bridge.issuer}/device?user_code=${encodeURIComponent(response.user_code)}`);
    assert.equal(response.expires_in, bridge.config.deviceFlow.codeTtl);
    assert.equal(response.interval, INTERVAL);
  });

  it('refuses clients that do not list the grant', async () => {
    const res = await postForm(`${bridge.issuer}/device/auth`, { client_id: 'cli', scope: 'openid' });
    // oidc-provider's answer (its checkClientGrantType) is invalid_request, naming the grant.
    const body = (await res.json()) as { error: string; error_description: string };
    assert.equal(res.status, 400);
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description, /device_code is not allowed for this client/);
  });

  it('gives tokens once, after the person confirms; a replayed device code gets invalid_grant and revokes them', async () => {
    const response = await initiate(bridge);
    // kubelogin polls at once: pending, not slow_down.
    const first = await pollOnce(bridge.issuer, 'tv', response.device_code);
    assert.equal(first.status, 400);
    assert.equal(first.body.error, 'authorization_pending');

    const browser = new Browser();
    const confirm = await enterCode(browser, response.verification_uri, response.user_code.toLowerCase().replace('-', ''));
    assert.equal(confirm.status, 200);
    assert.equal(headingOf(confirm.html), message('en', 'device.confirm.title', { client: 'Cluster tv' }));
    assert.ok(confirm.html.includes(response.user_code), 'the confirmation shows the code as the device does');
    const done = await submit(browser, confirm, { user_code: confirm.userCode!, confirm: 'yes' });
    assert.equal(done.status, 200);
    assert.equal(headingOf(done.html), message('en', 'device.success.title'));
    assert.ok(
      browser.history.some((hop) => /\/interaction\//.test(hop.url)),
      'the sign-in ran through the interaction routes',
    );

    const tokens = await client.pollDeviceAuthorizationGrant(await deviceRp(bridge.issuer, 'tv'), response);
    const claims = tokens.claims()!;
    assert.equal(claims.sub, 'alice-sub-1');
    assert.equal(claims.aud, 'tv');
    assert.equal(claims.preferred_username, 'alice');
    assert.ok(tokens.refresh_token, 'the client has the refresh_token grant');

    // The person cannot approve the same code again.
    const reused = await enterCode(new Browser(), response.verification_uri, response.user_code);
    assert.ok(reused.html.includes(message('en', 'device.problems.used')));

    const rp = await deviceRp(bridge.issuer, 'tv');
    assert.equal((await client.fetchUserInfo(rp, tokens.access_token, claims.sub)).sub, claims.sub);
    const again = await pollOnce(bridge.issuer, 'tv', response.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    // oidc-provider treats a replayed code as stolen: what it was exchanged for is revoked.
    await assert.rejects(client.fetchUserInfo(rp, tokens.access_token, claims.sub));
  });

  it('a token for one client is not one for another: the audience is the client id', async () => {
    const response = await initiate(bridge, 'tv-b');
    const browser = new Browser();
    const confirm = await enterCode(browser, response.verification_uri, response.user_code);
    await submit(browser, confirm, { user_code: confirm.userCode!, confirm: 'yes' });
    const tokens = await client.pollDeviceAuthorizationGrant(await deviceRp(bridge.issuer, 'tv-b'), response);
    assert.equal(tokens.claims()!.aud, 'tv-b');
    // The device code is bound to its client.
    const other = await initiate(bridge, 'tv');
    const stolen = await pollOnce(bridge.issuer, 'tv-b', other.device_code);
    assert.equal(stolen.body.error, 'invalid_grant');
  });

  it('answers slow_down to a poll sooner than the interval, and pending again after it', async () => {
    const response = await initiate(bridge);
    assert.equal((await pollOnce(bridge.issuer, 'tv', response.device_code)).body.error, 'authorization_pending');
    const tooSoon = await pollOnce(bridge.issuer, 'tv', response.device_code);
    assert.equal(tooSoon.status, 400);
    assert.equal(tooSoon.body.error, 'slow_down');
    // A slow_down does not restart the window: a poll a whole interval after the accepted one is pending.
    await clockPast(Math.ceil(Date.now() / 1000) + INTERVAL);
    assert.equal((await pollOnce(bridge.issuer, 'tv', response.device_code)).body.error, 'authorization_pending');
  });

  it('tells the device access_denied when the person cancels', async () => {
    const response = await initiate(bridge);
    const browser = new Browser();
    const confirm = await enterCode(browser, response.verification_uri, response.user_code);
    const cancelled = await submit(browser, confirm, { user_code: confirm.userCode!, abort: 'yes' });
    assert.equal(cancelled.status, 200);
    assert.ok(cancelled.html.includes(message('en', 'device.problems.aborted')));
    await assert.rejects(client.pollDeviceAuthorizationGrant(await deviceRp(bridge.issuer, 'tv'), response), (err: { error?: string }) => {
      assert.equal(err.error, 'access_denied');
      return true;
    });
  });

  it('says so when the code is wrong, and keeps what was typed', async () => {
    const browser = new Browser();
    const page = await enterCode(browser, `${bridge.issuer}/device`, 'BCDF-GHJK');
    assert.equal(page.status, 200);
    assert.ok(page.html.includes(message('en', 'device.problems.wrongCode')));
    assert.equal(page.userCode, 'BCDF-GHJK');
    assert.ok(page.xsrf, 'a fresh form to try again');
    assert.ok(!hasStackTrace(page.html));
  });

  it('refuses a form without its CSRF token', async () => {
    const response = await initiate(bridge);
    const browser = new Browser();
    const input = await openPage(browser, response.verification_uri);
    const forged = await submit(browser, { ...input, xsrf: 'forged' }, { user_code: response.user_code });
    assert.equal(forged.status, 400);
    assert.ok(forged.html.includes(message('en', 'device.problems.form')));
    // Another browser's token is no better.
    const other = await openPage(new Browser(), response.verification_uri);
    const crossed = await submit(browser, { ...input, xsrf: other.xsrf! }, { user_code: response.user_code, confirm: 'yes' });
    assert.equal(crossed.status, 400);
    assert.equal((await pollOnce(bridge.issuer, 'tv', response.device_code)).body.error, 'authorization_pending');
  });

  it('sends a form posted without a stored browser session back to a fresh one, never a 500', async () => {
    // No cookie at all (an expired session is the same): the form is served again from a GET.
    const response = await initiate(bridge);
    const res = await fetch(`${bridge.issuer}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: 'stale', user_code: response.user_code }),
      redirect: 'manual',
    });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!, bridge.issuer);
    assert.equal(location.pathname, new URL(`${bridge.issuer}/device`).pathname);
    assert.equal(location.searchParams.get('user_code'), response.user_code);
    const browser = new Browser();
    const page = await openPage(browser, location.href);
    assert.equal(page.userCode, response.user_code);
    const confirm = await submit(browser, page, { user_code: page.userCode });
    assert.equal(headingOf(confirm.html), message('en', 'device.confirm.title', { client: 'Cluster tv' }));
  });

  it('verification_uri_complete shows the code filled in, with the page headers and no script', async () => {
    const response = await initiate(bridge);
    const browser = new Browser();
    const page = await openPage(browser, response.verification_uri_complete!);
    assert.equal(page.status, 200);
    assert.equal(page.userCode, response.user_code);
    assert.ok(!/<script/i.test(page.html), 'no self-submitting script');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const confirm = await submit(browser, page, { user_code: page.userCode });
    assert.equal(headingOf(confirm.html), message('en', 'device.confirm.title', { client: 'Cluster tv' }));
  });

  it('speaks the language the browser asks for', async () => {
    const res = await fetch(`${bridge.issuer}/device`, { headers: { 'accept-language': 'zh-CN,zh;q=0.9' } });
    const html = await res.text();
    assert.equal(headingOf(html), message('zh-CN', 'device.input.title'));
  });
});

describe('device flow: expiry', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await start({ deviceFlow: { interval: INTERVAL, codeTtl: 1 } });
  });
  after(() => bridge.close());

  it('tells the device expired_token and the person that the code expired', async () => {
    const response = await initiate(bridge);
    await clockPast(Math.ceil(Date.now() / 1000) + response.expires_in);
    const poll = await pollOnce(bridge.issuer, 'tv', response.device_code);
    assert.equal(poll.status, 400);
    assert.equal(poll.body.error, 'expired_token');
    const page = await enterCode(new Browser(), response.verification_uri, response.user_code);
    assert.ok(page.html.includes(message('en', 'device.problems.expired')));
    assert.equal(page.userCode ?? '', '', 'a dead code is not offered again');
  });
});

describe('device flow: off', () => {
  it('is not offered while no client lists the grant', async () => {
    const bridge = await startBridge();
    try {
      const discovery = (await (await fetch(`${bridge.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(discovery.device_authorization_endpoint, undefined);
      assert.equal((await fetch(`${bridge.issuer}/device`)).status, 404);
    } finally {
      await bridge.close();
    }
  });
});
