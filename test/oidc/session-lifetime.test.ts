/**
 * The absolute lifetime of a browser session (`ttl.sessionAbsolute`, src/oidc/login-policy.ts):
 * oidc-provider renews a session's TTL on every use, so only this ends a busy one. Time passes on
 * the memory store's clock (test/helpers/clock.ts), which the policy reads too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { testClock } from '../helpers/clock.js';
import { Browser } from '../helpers/http-browser.js';
import { authorize, rpFor, signIn } from '../helpers/oidc-rp.js';

const WEB_CB = `${RP}/cb`;
const HOUR_MS = 3600 * 1000;

describe('absolute session lifetime', () => {
  const clock = testClock();
  let bridge: Bridge;
  let rp: client.Configuration;
  before(async () => {
    bridge = await startBridge({ clock: clock.now });
    rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
  });
  after(() => bridge.close());

  const silently = async (browser: Browser) => (await authorize(rp, { redirectUri: WEB_CB, browser, extra: { prompt: 'none' } })).callback;

  it('reuses a session until 12 h after its login however often it is used, then asks for a new login', async () => {
    const browser = new Browser();
    await signIn(rp, { redirectUri: WEB_CB, browser });
    clock.advance(11 * HOUR_MS);
    assert.ok((await silently(browser)).searchParams.get('code'), 'reused 11 h after the login');

    // 13 h after the login, 2 h after its last use: the idle TTL (ttl.session) would still keep it.
    clock.advance(2 * HOUR_MS);
    assert.equal((await silently(browser)).searchParams.get('error'), 'login_required');

    const seen = bridge.interactions.length;
    const { tokens } = await signIn(rp, { redirectUri: WEB_CB, browser });
    assert.ok(tokens.id_token);
    const login = bridge.interactions.slice(seen).find((i) => i.prompt === 'login');
    assert.ok(login?.reasons.includes('session_too_old'), JSON.stringify(bridge.interactions.slice(seen)));
    // That a new login starts a new lifetime is shown on real time: test/integration/session-lifetime.test.ts.
  });

  it('follows ttl.sessionAbsolute', async () => {
    const ownClock = testClock();
    const own = await startBridge({ clock: ownClock.now, configPatch: { ttl: { sessionAbsolute: '30m' } } });
    try {
      const ownRp = await rpFor(own, 'web', { secret: 'web-secret' });
      const browser = new Browser();
      await signIn(ownRp, { redirectUri: WEB_CB, browser });
      ownClock.advance(31 * 60 * 1000);
      const { callback } = await authorize(ownRp, { redirectUri: WEB_CB, browser, extra: { prompt: 'none' } });
      assert.equal(callback.searchParams.get('error'), 'login_required');
    } finally {
      await own.close();
    }
  });
});
