// A real browser through the KubeSphere-style login: the bridge (production wiring) skips the
// chooser (one upstream), shows the DingTalk sandbox page, the person picks 张伟, and the browser
// lands on the relying party's redirect URI with a code and KubeSphere's constant state, which
// openid-client then exchanges for a verified ID token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { sampleUserids } from '../../src/sandbox/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { KUBESPHERE_STATE, kubesphereClient } from '../helpers/dingtalk-login.js';

interface RelyingParty {
  url: string;
  /** The first request to the redirect URI (path and query). */
  redirected: Promise<URL>;
  close(): Promise<void>;
}

/** Stands in for ks-console: records the redirect and answers a plain page. */
async function startRelyingParty(): Promise<RelyingParty> {
  let resolveRedirect!: (url: URL) => void;
  const redirected = new Promise<URL>((resolve) => {
    resolveRedirect = resolve;
  });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://rp.invalid');
    if (url.pathname === '/oauth/redirect/dingtalk') resolveRedirect(url);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('signed in');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    redirected: redirected.then((u) => new URL(`${u.pathname}${u.search}`, base)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('DingTalk login in Chromium (KubeSphere-style client)', () => {
  let browser: Browser;
  let rp: RelyingParty;
  let fb: DingTalkBridge;

  before(async () => {
    rp = await startRelyingParty();
    // The browser before the bridge: when it cannot start, no bridge is left running to keep the file from ending.
    browser = await launchBrowser();
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', clients: [kubesphereClient(`${rp.url}/oauth/redirect/dingtalk`)] });
  });
  after(async () => {
    await browser?.close();
    await fb?.close();
    await rp?.close();
  });

  it('skips the chooser, signs 张伟 in at the sandbox and lands on the redirect URI with a code and state=dingtalk', async () => {
    const config = await fb.rp('kubesphere');
    const redirectUri = `${rp.url}/oauth/redirect/dingtalk`;
    // What ks-console builds: constant state, scopes from its config, no nonce, no PKCE.
    const authorize = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      state: KUBESPHERE_STATE,
    });
    const page = await browser.newPage();
    const bridgePages: string[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${fb.issuer}/interaction/`) && r.status() === 200) bridgePages.push(r.url());
    });

    await page.goto(authorize.href);
    await page.waitForURL((u) => u.href.startsWith(`${fb.sandboxUrl}/oauth2/auth?`));
    assert.deepEqual(bridgePages, [], 'no chooser page: the only upstream starts at once');
    await page.locator('button', { hasText: '张伟' }).first().click();
    const landed = await rp.redirected;
    await page.waitForURL((u) => u.href.startsWith(redirectUri));

    assert.equal(landed.searchParams.get('state'), KUBESPHERE_STATE);
    assert.equal(landed.searchParams.get('iss'), fb.issuer);
    assert.match(landed.searchParams.get('code') ?? '', /^[\w-]{20,}$/);
    const tokens = await client.authorizationCodeGrant(config, landed, { expectedState: KUBESPHERE_STATE });
    const claims = tokens.claims()!;
    assert.equal(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).alg, 'RS256');
    assert.equal(claims.iss, fb.issuer);
    assert.equal(claims.aud, 'kubesphere');
    assert.equal(claims.name, '张伟');
    assert.equal(claims.email, 'wei.zhang@sandbox.example.com');
    assert.equal(claims.email_verified, true);
    assert.equal(typeof claims.preferred_username, 'string');
    assert.match(claims.preferred_username as string, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    const account = await fb.bridge.accounts.get(claims.sub);
    assert.equal(account?.profile.extra.dingtalk_userid, sampleUserids.manager);
    await page.close();
  });
});
