/**
 * RP-initiated logout (confirmation page from the injected pages, xsrf form, redirect with state)
 * and back-channel logout (a logout token POSTed to the client, verifiable against /jwks).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { startBridge, RP, TEST_CLIENTS, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { authorize, basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';
import { plainPages as defaultPages, escapeHtml, pageHeaders, type ProtocolPages as Pages } from '../../src/pages/index.js';

const BCL_CB = 'https://bcl.example.test/cb';

/** Pages that mark their output, so the test can see they (not oidc-provider's defaults) were used. */
const markedPages: Pages = {
  ...defaultPages,
  logout: (o) => defaultPages.logout(o).replace('<body>', `<body><p id="marker">logout:${o.locale}</p>`),
  logoutSuccess: (o) => defaultPages.logoutSuccess(o).replace('<body>', `<body><p id="marker">done:${escapeHtml(o.clientName ?? '')}</p>`),
  error: (o) => defaultPages.error(o).replace('<body>', `<body><p id="marker">error:${o.error}:${o.status}</p>`),
};

function startReceiver(): Promise<{ server: Server; url: string; next(): Promise<string> }> {
  const waiting: ((body: string) => void)[] = [];
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      res.writeHead(200).end();
      const waiter = waiting.shift();
      if (waiter) waiter(body);
      else received.push(body);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`,
        next: () => (received.length ? Promise.resolve(received.shift()!) : new Promise((r) => waiting.push(r))),
      }),
    ),
  );
}

function logoutForm(html: string): { action: string; xsrf: string } {
  const action =
    /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"/.exec(html) ?? /<form[^>]*action="([^"]+)"[^>]*id="op.logoutForm"/.exec(html);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html);
  assert.ok(action && xsrf, `logout form not found in ${html}`);
  return { action: action[1]!, xsrf: xsrf[1]! };
}

describe('logout', () => {
  let bridge: Bridge;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    bridge = await startBridge({
      pages: markedPages,
      configPatch: {
        clients: [
          ...TEST_CLIENTS,
          {
            client_id: 'bcl',
            client_secret: 'bcl-secret',
            redirect_uris: [BCL_CB],
            skipConsent: true,
            backchannel_logout_uri: receiver.url,
            backchannel_logout_session_required: true,
          },
        ],
      },
    });
  });
  after(async () => {
    await bridge.close();
    await new Promise((r) => receiver.server.close(r));
  });

  it('confirms on the injected page, redirects with state, ends the session and notifies back-channel clients', async () => {
    const browser = new Browser();
    const web = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { tokens } = await signIn(web, { redirectUri: `${RP}/cb`, browser });
    const bcl = await signIn(await rpFor(bridge, 'bcl', { secret: 'bcl-secret' }), { redirectUri: BCL_CB, browser });

    const endSession = client.buildEndSessionUrl(web, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${RP}/bye`,
      state: 'bye-state',
      ui_locales: 'en',
    });
    const page = await browser.fetch(endSession, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /id="marker">logout:en</);
    assert.match(html, /name="logout" value="yes"/);
    const { action, xsrf } = logoutForm(html);

    const confirmed = await browser.fetch(new URL(action, bridge.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    assert.equal(confirmed.status, 303);
    const location = new URL(confirmed.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, `${RP}/bye`);
    assert.equal(location.searchParams.get('state'), 'bye-state');

    const { payload } = await jwtVerify(
      await receiver.next().then((b) => new URLSearchParams(b).get('logout_token')!),
      createRemoteJWKSet(new URL(`${bridge.issuer}/jwks`)),
      { issuer: bridge.issuer, audience: 'bcl' },
    );
    assert.equal(payload.sub, 'alice-sub-1');
    assert.equal(payload.sid, bcl.tokens.claims()!.sid);
    const events = payload.events as Record<string, unknown> | undefined;
    assert.ok(events && 'http://schemas.openid.net/event/backchannel-logout' in events);

    const silent = await authorize(web, { redirectUri: `${RP}/cb`, browser, extra: { prompt: 'none' } });
    assert.equal(silent.callback.searchParams.get('error'), 'login_required');
    const res = await postForm(
      `${bridge.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant', 'the grants of the session ended');
  });

  it('shows the injected success page when no post_logout_redirect_uri is given', async () => {
    const browser = new Browser();
    const web = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { tokens } = await signIn(web, { redirectUri: `${RP}/cb`, browser });
    const html = await (await browser.fetch(client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token! }))).text();
    const { action, xsrf } = logoutForm(html);
    const confirmed = await browser.fetch(new URL(action, bridge.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    const done = await browser.fetch(new URL(confirmed.headers.get('location')!, bridge.issuer));
    assert.equal(done.status, 200);
    assert.match(await done.text(), /id="marker">done:/);
  });

  it('renders protocol errors on the injected error page, without internals', async () => {
    const res = await fetch(`${bridge.issuer}/session/end?id_token_hint=not-a-jwt`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.match(html, /id="marker">error:invalid_request:400</);
    assert.doesNotMatch(html, /at .*\.js:\d+/);
  });

  it("gives oidc-provider's own pages the interaction pages' headers, with the logout form's redirects allowed", async () => {
    const browser = new Browser();
    const web = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { tokens } = await signIn(web, { redirectUri: `${RP}/cb`, browser });
    const expectHeaders = (res: Response, formActions: string[], what: string) => {
      for (const [name, value] of Object.entries(pageHeaders(formActions))) assert.equal(res.headers.get(name), value, `${what}: ${name}`);
    };

    const endSession = client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${RP}/bye` });
    const page = await browser.fetch(endSession, { headers: { accept: 'text/html' } });
    // The form posts to the issuer's end-session URL ('self'), whose 303 goes on to the client's post-logout URI.
    expectHeaders(page, [RP], 'logout confirmation');
    const { action, xsrf } = logoutForm(await page.text());
    assert.equal(new URL(action, bridge.issuer).origin, new URL(bridge.issuer).origin, "the form's action is 'self'");

    const confirmed = await browser.fetch(new URL(action, bridge.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    assert.equal(new URL(confirmed.headers.get('location')!).origin, RP);

    // Without a post_logout_redirect_uri the chain ends on the bridge's own success page.
    const other = new Browser();
    const again = await signIn(web, { redirectUri: `${RP}/cb`, browser: other });
    const plain = await other.fetch(client.buildEndSessionUrl(web, { id_token_hint: again.tokens.id_token! }));
    const form = logoutForm(await plain.text());
    const done = await other.fetch(new URL(form.action, bridge.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: form.xsrf, logout: 'yes' }).toString(),
    });
    const success = await other.fetch(new URL(done.headers.get('location')!, bridge.issuer));
    assert.equal(success.status, 200);
    expectHeaders(success, [], 'logout success');

    const error = await fetch(`${bridge.issuer}/session/end?id_token_hint=not-a-jwt`, { headers: { accept: 'text/html' } });
    assert.equal(error.status, 400);
    expectHeaders(error, [], 'error page');
  });
});
