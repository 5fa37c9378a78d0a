// In a real Chromium: a session at an OIDC upstream whose recheck is due goes on through a silent
// prompt=none leg (the fake issuer answers it from its own cookie session): the browser lands on
// the relying party again without a page, and auth_time is the first login's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import * as client from 'openid-client';
import { launchBrowser } from '../helpers/browser.js';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { clockPast } from '../helpers/clock.js';
import { exchange, relyingParty, secretOf } from '../helpers/upstream-login.js';

describe('silent recheck in Chromium', () => {
  let bridge: DoublesBridge;
  let chromium: Browser;
  let context: BrowserContext;
  let server: Server;
  let target = '';
  const hits: URL[] = [];

  before(async () => {
    server = createServer((req, res) => {
      hits.push(new URL(req.url ?? '/', target));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    chromium = await launchBrowser();
    bridge = await startBridge({
      upstream: 'doubles',
      upstreamConfig: { oidc: { recheckAfter: 0 } },
      clients: [
        {
          client_id: 'portal',
          client_secret: secretOf('portal'),
          redirect_uris: [target],
          grant_types: ['authorization_code'],
          skipConsent: true,
          upstreams: ['oidc'],
        },
      ],
    });
    context = await chromium.newContext();
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await bridge?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('the second login goes through prompt=none without a page and keeps auth_time', async () => {
    const rp = await relyingParty(bridge.issuer, 'portal', 'basic');
    const signIn = async () => {
      const state = client.randomState();
      const nonce = client.randomNonce();
      const page = await context.newPage();
      const url = client.buildAuthorizationUrl(rp, { redirect_uri: target, scope: 'openid profile', state, nonce, max_age: '86400' });
      await page.goto(url.href);
      await page.waitForURL((u) => u.href.startsWith(target));
      assert.equal(await page.locator('body').innerText(), 'signed in');
      await page.close();
      const landed = hits.filter((u) => u.pathname === new URL(target).pathname).at(-1)!;
      return (await exchange(rp, { callback: landed, state, nonce })).claims()!;
    };
    const first = await signIn();
    await clockPast(first.auth_time!);
    const asked = bridge.doubles.oidc.requests.authorize.length;
    const second = await signIn();
    assert.deepEqual(
      bridge.doubles.oidc.requests.authorize.slice(asked).map((q) => q.get('prompt')),
      ['none'],
    );
    assert.equal(second.sub, first.sub);
    assert.equal(second.auth_time, first.auth_time);
  });
});
