// In a real Chromium: a client offered both an IDaaS (EIAM 1.0) and an OIDC upstream.
// The chooser shows both display names — in the configured default language (zh-CN) when the
// browser asks for one we do not ship, in English with ui_locales=en — and clicking the IDaaS one
// goes through the (fake) IDaaS and back to the relying party, which redeems the code with openid-client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import * as client from 'openid-client';
import { launchBrowser } from '../helpers/browser.js';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { message } from '../helpers/pages.js';
import {
  assertKubeSphereClaims,
  assertRs256WithPublishedKid,
  authorizeCount,
  DISPLAY_NAMES,
  exchange,
  relyingParty,
  secretOf,
  type Doubles,
} from '../helpers/upstream-login.js';

/** The relying party's redirect target: records every query it receives. */
async function startRedirectTarget(): Promise<{ url: string; hits: URL[]; close(): Promise<void> }> {
  const hits: URL[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', origin));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/callback`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('IDaaS login in Chromium', () => {
  let doubles: Doubles;
  let bridge: DoublesBridge;
  let target: Awaited<ReturnType<typeof startRedirectTarget>>;
  let chromium: Browser;
  let context: BrowserContext;
  let rp: client.Configuration;

  before(async () => {
    // The browser first: when it cannot start, nothing else is left running to keep the file from ending.
    chromium = await launchBrowser();
    target = await startRedirectTarget();
    bridge = await startBridge({
      upstream: 'doubles',
      store: 'memory',
      clients: [
        {
          client_id: 'portal',
          client_secret: secretOf('portal'),
          client_name: 'Portal',
          redirect_uris: [target.url],
          grant_types: ['authorization_code', 'refresh_token'],
          skipConsent: true,
          upstreams: ['idaas', 'oidc'],
        },
      ],
    });
    doubles = bridge.doubles;
    rp = await relyingParty(bridge.issuer, 'portal', 'basic');
    // A language the bridge does not ship: the configured default (zh-CN) applies.
    context = await chromium.newContext({ locale: 'fr-FR' });
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await bridge?.close();
    await target?.close();
  });

  const chooserLabels = async (url: URL) => {
    const page = await context.newPage();
    await page.goto(url.href);
    const labels = await page.locator('a.option .option__label').allInnerTexts();
    return { page, labels };
  };

  it('shows both upstreams in zh-CN by default and in English with ui_locales=en', async () => {
    const authorize = (extra: Record<string, string>) =>
      client.buildAuthorizationUrl(rp, {
        redirect_uri: target.url,
        scope: 'openid profile',
        state: client.randomState(),
        nonce: client.randomNonce(),
        ...extra,
      });
    const zh = await chooserLabels(authorize({}));
    assert.deepEqual(zh.labels, [
      message('zh-CN', 'chooser.continueWith', { upstream: DISPLAY_NAMES.idaas['zh-CN'] }),
      message('zh-CN', 'chooser.continueWith', { upstream: DISPLAY_NAMES.oidc['zh-CN'] }),
    ]);
    assert.equal(await zh.page.locator('html').getAttribute('lang'), 'zh-CN');
    await zh.page.close();
    const en = await chooserLabels(authorize({ ui_locales: 'en' }));
    assert.deepEqual(en.labels, [
      message('en', 'chooser.continueWith', { upstream: DISPLAY_NAMES.idaas.en }),
      message('en', 'chooser.continueWith', { upstream: DISPLAY_NAMES.oidc.en }),
    ]);
    await en.page.close();
  });

  it('signs in by clicking IDaaS and lands on the relying party with a code openid-client redeems', async () => {
    const state = client.randomState();
    const nonce = client.randomNonce();
    const before = authorizeCount(doubles, 'idaas');
    const { page } = await chooserLabels(
      client.buildAuthorizationUrl(rp, { redirect_uri: target.url, scope: 'openid profile email', state, nonce }),
    );
    await page.getByRole('link', { name: new RegExp(DISPLAY_NAMES.idaas['zh-CN']) }).click();
    await page.waitForURL((u) => u.href.startsWith(target.url));
    assert.equal(await page.locator('body').innerText(), 'signed in');
    await page.close();
    assert.equal(authorizeCount(doubles, 'idaas'), before + 1, 'the browser went through IDaaS');

    // Chromium also asks the target for /favicon.ico.
    const landed = target.hits.filter((u) => u.pathname === new URL(target.url).pathname).at(-1)!;
    assert.equal(landed.searchParams.get('state'), state);
    const tokens = await exchange(rp, { callback: landed, state, nonce });
    const claims = tokens.claims()!;
    assert.equal(claims.name, '张伟');
    assertKubeSphereClaims(claims);
    await assertRs256WithPublishedKid(rp, tokens.id_token!);
  });
});
