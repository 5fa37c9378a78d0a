// What reaches /upstream/<id>/callback is attacker-controlled. Wrong, replayed, foreign,
// missing and garbage `state`, and upstream `?error=` answers, each get the right page (400 "link no
// longer valid", 502 "upstream failed") or the OAuth error redirect to the client — never a 500,
// never a stack trace, never a code, state, token or secret in the HTML — and never finish (or
// cancel) a login that is not this browser's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { Browser } from '../helpers/http-browser.js';
import { COOKIE_SECRET, startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { headingOf, message, retryHrefOf } from '../helpers/pages.js';
import {
  assertSafePage,
  authorizeCount,
  DISPLAY_NAMES,
  exchange,
  relyingParty,
  secretOf,
  STORES,
  webRedirect,
  type Doubles,
  type LoginLeg,
} from '../helpers/upstream-login.js';

const CLIENT = 'web-idaas'; // offers idaas and oidc
const REDIRECT = webRedirect('idaas');

interface StartedLeg {
  browser: Browser;
  /** The upstream's redirect back to the bridge (code + the bridge's state), not yet opened. */
  callback: URL;
  rpState: string;
  nonce: string;
}

for (const store of STORES) {
  describe(`hostile upstream callbacks (${store} store)`, () => {
    let doubles: Doubles;
    let bridge: DoublesBridge;
    let rp: client.Configuration;
    let secrets: string[];

    before(async () => {
      bridge = await startBridge({ upstream: 'doubles', store });
      doubles = bridge.doubles;
      rp = await relyingParty(bridge.issuer, CLIENT, 'basic');
      secrets = [COOKIE_SECRET, secretOf(CLIENT), doubles.idaas.clientSecret, doubles.oidc.clientSecret];
    });
    after(async () => {
      await bridge?.close();
    });

    /** /auth?upstream=<id> up to the upstream's redirect back to the bridge, which is not opened. */
    async function startLeg(upstream: 'idaas' | 'oidc', browser = new Browser()): Promise<StartedLeg> {
      const rpState = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid profile', state: rpState, nonce, upstream });
      const { url: callback } = await browser.follow(url, (u) => u.pathname.endsWith(`/upstream/${upstream}/callback`));
      assert.ok(callback.pathname.endsWith(`/upstream/${upstream}/callback`), `reached the ${upstream} callback: ${callback.href}`);
      return { browser, callback, rpState, nonce };
    }

    /** Opens a callback URL and follows the bridge's redirects up to the RP (never fetched) or a page. */
    async function open(browser: Browser, url: URL | string) {
      const { url: landed, response } = await browser.follow(url, (u) => u.href.startsWith(REDIRECT));
      const html = landed.href.startsWith(REDIRECT) ? '' : await response.text();
      return { landed, status: response.status, html, atRp: landed.href.startsWith(REDIRECT) };
    }

    /** The leg finishes at the RP with a code the RP can redeem. */
    async function assertCompletes(leg: StartedLeg, url: URL | string = leg.callback): Promise<void> {
      const result = await open(leg.browser, url);
      assert.ok(result.atRp, `the login completes at the RP (got ${result.status} ${headingOf(result.html)})`);
      const done: LoginLeg = { browser: leg.browser, callback: result.landed, state: leg.rpState, nonce: leg.nonce };
      const tokens = await exchange(rp, done);
      assert.ok(tokens.claims()?.sub);
    }

    function assertInvalidLink(result: { status: number; html: string; atRp: boolean }, leg?: StartedLeg): void {
      assert.equal(result.atRp, false, 'nothing reaches the RP');
      assert.equal(result.status, 400);
      assert.equal(headingOf(result.html), message('zh-CN', 'errors.invalidLink.title'));
      assertSafePage(result.html, [
        ...secrets,
        leg?.callback.searchParams.get('code'),
        leg?.callback.searchParams.get('state'),
        leg?.rpState,
      ]);
    }

    const withQuery = (base: URL, query: Record<string, string | string[]>) => {
      const url = new URL(base.origin + base.pathname);
      for (const [key, value] of Object.entries(query)) for (const v of [value].flat()) url.searchParams.append(key, v);
      return url;
    };
    const freshState = () => randomBytes(32).toString('base64url');

    it('a wrong state is "link no longer valid", and leaves the real leg usable', async () => {
      const leg = await startLeg('idaas');
      const forged = withQuery(leg.callback, { code: leg.callback.searchParams.get('code')!, state: freshState() });
      assertInvalidLink(await open(leg.browser, forged), leg);
      await assertCompletes(leg);
    });

    it('a replayed callback (already completed) is "link no longer valid", in the same or another browser', async () => {
      const leg = await startLeg('idaas');
      await assertCompletes(leg);
      assertInvalidLink(await open(leg.browser, leg.callback), leg);
      assertInvalidLink(await open(new Browser(), leg.callback), leg);
    });

    for (const upstream of ['idaas', 'oidc'] as const) {
      it(`another browser opening A's ${upstream} callback finishes neither A's login nor its own`, async () => {
        const a = await startLeg(upstream);
        const b = new Browser();
        assertInvalidLink(await open(b, a.callback), a);
        assert.equal(
          b.cookies().some((c) => c.name.startsWith('_session')),
          false,
          'B got no session',
        );
        // B is not signed in: its next /auth goes to the upstream.
        const before = authorizeCount(doubles, upstream);
        const own = await startLeg(upstream, b);
        assert.equal(authorizeCount(doubles, upstream), before + 1);
        // A's leg was not burnt by B's attempt, and B's own leg is its own.
        await assertCompletes(a);
        await assertCompletes(own);
      });
    }

    it("?error=access_denied with this browser's state sends access_denied to the client", async () => {
      const leg = await startLeg('oidc');
      const denied = withQuery(leg.callback, {
        error: 'access_denied',
        error_description: 'user said no',
        state: leg.callback.searchParams.get('state')!,
      });
      const result = await open(leg.browser, denied);
      assert.ok(result.atRp, `the client hears of it (got ${result.status} ${headingOf(result.html)})`);
      assert.equal(result.landed.searchParams.get('error'), 'access_denied');
      assert.equal(result.landed.searchParams.get('state'), leg.rpState);
      assert.equal(result.landed.searchParams.get('code'), null);
    });

    it('an upstream that denies (IDaaS fault) sends access_denied to the client', async () => {
      doubles.idaas.setFault('deny');
      try {
        const rpState = client.randomState();
        const url = client.buildAuthorizationUrl(rp, {
          redirect_uri: REDIRECT,
          scope: 'openid',
          state: rpState,
          nonce: client.randomNonce(),
          upstream: 'idaas',
        });
        const result = await open(new Browser(), url);
        assert.ok(result.atRp);
        assert.equal(result.landed.searchParams.get('error'), 'access_denied');
        assert.equal(result.landed.searchParams.get('state'), rpState);
      } finally {
        doubles.idaas.setFault(undefined);
      }
    });

    it("?error=server_error with this browser's state is the upstream-failed page (502) with a retry link", async () => {
      doubles.idaas.setFault('authorize_error');
      let leg: StartedLeg;
      try {
        leg = await startLeg('idaas');
      } finally {
        doubles.idaas.setFault(undefined);
      }
      assert.equal(leg.callback.searchParams.get('error'), 'server_error');
      const result = await open(leg.browser, leg.callback);
      assert.equal(result.status, 502);
      assert.equal(headingOf(result.html), message('zh-CN', 'errors.upstreamFailed.title', { upstream: DISPLAY_NAMES.idaas['zh-CN'] }));
      assertSafePage(result.html, [...secrets, leg.callback.searchParams.get('state'), leg.rpState]);
      const retry = retryHrefOf(result.html);
      assert.match(retry ?? '', /\/interaction\/[^/]+$/, 'a retry link back to the sign-in');
      // The upstream works again: retrying finishes the same authorization request.
      await assertCompletes(leg, new URL(retry!, bridge.issuer));
    });

    it("a forged ?error= with A's state, opened in another browser, cancels nothing", async () => {
      const a = await startLeg('idaas');
      const forged = withQuery(a.callback, { error: 'access_denied', state: a.callback.searchParams.get('state')! });
      assertInvalidLink(await open(new Browser(), forged), a);
      await assertCompletes(a);
    });

    it('a callback without state is "link no longer valid"', async () => {
      const leg = await startLeg('idaas');
      const code = leg.callback.searchParams.get('code')!;
      assertInvalidLink(await open(leg.browser, withQuery(leg.callback, { code })), leg);
      assertInvalidLink(await open(leg.browser, withQuery(leg.callback, { error: 'access_denied' })), leg);
      assertInvalidLink(await open(leg.browser, withQuery(leg.callback, {})), leg);
      assertInvalidLink(await open(leg.browser, withQuery(leg.callback, { foo: 'bar' })), leg);
      await assertCompletes(leg);
    });

    it('garbage and oversized parameters get a page, never a 500', async () => {
      const leg = await startLeg('idaas');
      const state = leg.callback.searchParams.get('state')!;
      const code = leg.callback.searchParams.get('code')!;
      const hostile: Record<string, string | string[]>[] = [
        { code, state: 'x'.repeat(4000) },
        { code: 'y'.repeat(6000), state: freshState() },
        { code, state: [state, state] },
        { code, state: '../../../etc/passwd' },
        { code, state: '<script>alert(1)</script>' },
        { 'code[]': code, state: freshState() },
      ];
      for (const query of hostile) {
        const result = await open(leg.browser, withQuery(leg.callback, query));
        assertInvalidLink(result, leg);
        assert.ok(!result.html.includes('<script>alert(1)'), 'nothing from the URL is reflected unescaped');
      }
      const percent = await open(leg.browser, `${leg.callback.origin}${leg.callback.pathname}?code=%ff%fe&state=%00%c0%af`);
      assertInvalidLink(percent, leg);
      // Beyond Node's header limit the server refuses before any route runs.
      const huge = await open(leg.browser, withQuery(leg.callback, { code, state: 'z'.repeat(20_000) }));
      assert.ok(huge.status >= 400 && huge.status < 500, `oversized request: ${huge.status}`);
      const unknown = await open(leg.browser, `${bridge.issuer}/upstream/nope/callback?code=a&state=${freshState()}`);
      assert.equal(unknown.status, 404);
      assertSafePage(unknown.html, secrets);
      // None of that spoiled the real leg.
      await assertCompletes(leg);
    });

    it('an error parameter full of markup is shown escaped, on the upstream-failed page', async () => {
      const leg = await startLeg('idaas');
      const markup = withQuery(leg.callback, {
        error: '<img src=x onerror=alert(1)>',
        error_description: '<script>alert(2)</script>',
        state: leg.callback.searchParams.get('state')!,
      });
      const result = await open(leg.browser, markup);
      assert.equal(result.status, 502);
      assert.equal(headingOf(result.html), message('zh-CN', 'errors.upstreamFailed.title', { upstream: DISPLAY_NAMES.idaas['zh-CN'] }));
      assert.ok(!result.html.includes('<img src=x') && !result.html.includes('<script>alert'), 'no markup from the URL');
      assertSafePage(result.html, [...secrets, leg.rpState]);
    });
  });
}
