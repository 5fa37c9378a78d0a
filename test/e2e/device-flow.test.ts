// kubectl on a host without a browser: the device authorization grant (RFC 8628, src/oidc/device.ts)
// end to end with the DingTalk sandbox behind it (production wiring). The device is driven as
// kubelogin `get-token --grant-type=device-code` drives it (test/helpers/device-flow.ts): its exact
// device authorization request, a poll at once, then openid-client polling at the interval and
// verifying the ID token. The person opens verification_uri_complete, confirms, and signs in at
// the sandbox: once with the fetch browser, once in Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import type { Browser as Chromium, ConsoleMessage } from 'playwright-core';
import { sampleUserids } from '../../src/sandbox/index.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { launchBrowser } from '../helpers/browser.js';
import { DEVICE_CODE_GRANT, deviceClient, deviceRp, openPage, pollOnce, submit } from '../helpers/device-flow.js';
import { KUBECTL_GROUPS_PREFIX, kubectlClient, kubesphereClient } from '../helpers/dingtalk-login.js';
import { Browser } from '../helpers/http-browser.js';
import { headingOf, message } from '../helpers/pages.js';

const CLUSTER = 'kubectl-prod';

/** oauth2dev's RetrieveCode: client_id and scope (kubelogin's extra scopes, then openid) as a form, nothing else. */
async function kubeloginDeviceAuthorization(issuer: string, clientId: string, scopes: string[]) {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
    device_authorization_endpoint?: string;
  };
  assert.ok(discovery.device_authorization_endpoint, 'go-oidc reads device_authorization_endpoint into DeviceAuthURL');
  const res = await fetch(discovery.device_authorization_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, scope: [...scopes, 'openid'].join(' ') }).toString(),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as client.DeviceAuthorizationResponse;
}

/** A failed poll with the reason only the bridge's log holds (oidc-provider's error_detail: not found, consumed, grant …). */
function failedPoll(fb: DingTalkBridge, err: unknown): never {
  const protocolErrors = fb.logs
    .filter((line) => line.msg === 'protocol error')
    .map((line) => `${String(line.event)} ${String(line.error)}: ${String(line.detail)}`);
  throw new Error(`the device's poll failed (${String(err)}); the bridge logged: ${protocolErrors.join('; ') || 'no protocol error'}`, {
    cause: err,
  });
}

describe('device flow with the DingTalk sandbox', () => {
  let fb: DingTalkBridge;
  let chromium: Chromium;
  before(async () => {
    // The browser before the bridge: when it cannot start, no bridge is left running to keep the file from ending.
    chromium = await launchBrowser();
    fb = await startBridge({
      upstream: 'dingtalk',
      store: 'redis',
      clients: [kubesphereClient(), kubectlClient(), deviceClient(CLUSTER, { client_name: 'prod cluster', groups: { max: 50 } })],
      configPatch: { deviceFlow: { interval: 1 } },
    });
  });
  after(async () => {
    await chromium?.close();
    await fb?.close();
  });

  it('kubelogin-style: the person confirms and signs in at DingTalk; the device gets an ID token with username and groups', async () => {
    const authorization = await kubeloginDeviceAuthorization(fb.issuer, CLUSTER, ['groups', 'profile']);
    assert.ok(authorization.verification_uri_complete);
    assert.equal(authorization.interval, 1);
    // kubelogin's first poll comes at once.
    assert.equal((await pollOnce(fb.issuer, CLUSTER, authorization.device_code)).body.error, 'authorization_pending');
    const polled = client.pollDeviceAuthorizationGrant(await deviceRp(fb.issuer, CLUSTER), authorization);

    const browser = new Browser();
    const filled = await openPage(browser, authorization.verification_uri_complete);
    assert.equal(filled.userCode, authorization.user_code);
    const confirm = await submit(browser, filled, { user_code: filled.userCode });
    assert.ok(confirm.html.includes(message('zh-CN', 'device.confirm.title', { client: 'prod cluster' })));
    // Continue: the usual sign-in (one upstream: straight to DingTalk), then back to /device/<uid>.
    const atSandbox = await submit(browser, confirm, { user_code: confirm.userCode!, confirm: 'yes' }, (u) =>
      u.href.startsWith(`${fb.sandboxUrl}/oauth2/auth?`),
    );
    const callback = await fb.chooseAtSandbox(
      { clientId: CLUSTER, browser, redirectUri: '', state: '', upstreamUrl: atSandbox.url },
      sampleUserids.wangFangPlatform,
    );
    const { url, response } = await browser.follow(callback, () => false);
    assert.match(url.pathname, /^\/device\/[\w-]+$/);
    assert.equal(headingOf(await response.text()), message('zh-CN', 'device.success.title'));

    const tokens = await polled;
    const claims = tokens.claims()!;
    assert.equal(claims.iss, fb.issuer);
    assert.equal(claims.aud, CLUSTER, 'kube-apiserver --oidc-client-id of this cluster');
    assert.equal(claims.name, '王芳');
    assert.equal(typeof claims.preferred_username, 'string');
    assert.deepEqual(claims.groups, [`${KUBECTL_GROUPS_PREFIX}研发中心/平台组`, `${KUBECTL_GROUPS_PREFIX}研发中心`]);
    assert.ok(tokens.refresh_token, 'kubelogin refreshes without another device sign-in');
    const account = await fb.bridge.accounts.get(claims.sub);
    assert.equal(account?.profile.extra.dingtalk_userid, sampleUserids.wangFangPlatform);
    // Single use.
    assert.equal((await pollOnce(fb.issuer, CLUSTER, authorization.device_code)).body.error, 'invalid_grant');
  });

  it('refuses the device grant to a client that does not list it (the browser-flow kubectl client)', async () => {
    const discovery = (await (await fetch(`${fb.issuer}/.well-known/openid-configuration`)).json()) as { grant_types_supported: string[] };
    assert.ok(discovery.grant_types_supported.includes(DEVICE_CODE_GRANT));
    const res = await fetch(`${fb.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'kubectl', scope: 'openid' }).toString(),
    });
    assert.equal(res.status, 400);
  });

  it('in Chromium: verification_uri_complete, confirm, DingTalk, done; no page breaks its CSP', async () => {
    const rp = await deviceRp(fb.issuer, CLUSTER);
    const authorization = await client.initiateDeviceAuthorization(rp, { scope: 'groups profile openid' });
    const polled = client.pollDeviceAuthorizationGrant(rp, authorization);

    const context = await chromium.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m: ConsoleMessage) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(authorization.verification_uri_complete!);
    assert.equal(await page.locator('h1').textContent(), message('en', 'device.input.title'));
    assert.equal(await page.locator('input[name="user_code"]').inputValue(), authorization.user_code);
    await page.getByRole('button', { name: message('en', 'device.input.continue') }).click();
    await page.waitForSelector(`text=${message('en', 'device.confirm.title', { client: 'prod cluster' })}`);
    assert.equal((await page.locator('.user-code').textContent())?.trim(), authorization.user_code);
    await page.getByRole('button', { name: message('en', 'device.confirm.continue') }).click();
    await page.waitForURL((u) => u.href.startsWith(`${fb.sandboxUrl}/oauth2/auth?`));
    await page.locator('button', { hasText: '张伟' }).first().click();
    await page.waitForURL((u) => u.pathname.startsWith('/device/'));
    assert.equal(await page.locator('h1').textContent(), message('en', 'device.success.title'));

    const claims = (await polled.catch((err: unknown) => failedPoll(fb, err))).claims()!;
    assert.equal(claims.aud, CLUSTER);
    assert.equal(claims.name, '张伟');
    assert.ok(Array.isArray(claims.groups) && claims.groups.includes(`${KUBECTL_GROUPS_PREFIX}研发中心`));
    const account = await fb.bridge.accounts.get(claims.sub);
    assert.equal(account?.profile.extra.dingtalk_userid, sampleUserids.manager);
    assert.deepEqual(violations, []);
    await context.close();
  });
});
