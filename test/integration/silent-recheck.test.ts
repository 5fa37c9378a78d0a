/**
 * The silent recheck (src/interactions/silent-recheck.ts): once `recheckAfter` has passed, a
 * reused session whose account came from an `oidc` upstream (or an `oauth2` one with
 * `silentRecheck: true`) first asks the upstream with `prompt=none`. The fake OIDC issuer answers
 * prompt=none honestly: a code for its browser session's person, `login_required` without one.
 * The same person goes on without a page and keeps the session's auth_time; an error falls back to
 * the interactive leg; another person is a new login (`prompt=login`), never a silent switch.
 * openid-client is the relying party. Real time: recheckAfter 0 and clockPast (a second at most).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { clockPast } from '../helpers/clock.js';
import { Browser } from '../helpers/http-browser.js';
import { DEFAULT_OIDC_USER } from '../doubles/fake-oidc-issuer.js';
import { exchange, login, relyingParty, webRedirect } from '../helpers/upstream-login.js';

/** A `max_age` puts `auth_time` into the ID token (OIDC Core 1.0 §2); a day never forces a login here. */
const WITH_AUTH_TIME = { max_age: '86400' };

describe('silent recheck towards an OIDC upstream', () => {
  let bridge: DoublesBridge;
  before(async () => {
    bridge = await startBridge({
      upstream: 'doubles',
      upstreamConfig: { oidc: { recheckAfter: 0 }, idaas: { recheckAfter: 0 } },
    });
  });
  after(() => bridge.close());

  /** Signs in at the oidc upstream in a fresh browser, then waits until the recheck is due and auth_time can move. */
  async function signedIn() {
    const rp = await relyingParty(bridge.issuer, 'web-oidc', 'basic');
    const browser = new Browser();
    const first = (
      await exchange(rp, await login(rp, { redirectUri: webRedirect('oidc'), browser, pick: 'oidc', extra: WITH_AUTH_TIME }))
    ).claims()!;
    await clockPast(first.auth_time!);
    return { rp, browser, first, asked: bridge.doubles.oidc.requests.authorize.length };
  }

  /** The prompt of each authorize request the issuer received since `from`. */
  const promptsSince = (from: number) => bridge.doubles.oidc.requests.authorize.slice(from).map((q) => q.get('prompt'));

  it('the same person passes with prompt=none: no page, the same sub, auth_time kept', async () => {
    const { rp, browser, first, asked } = await signedIn();
    const again = await login(rp, { redirectUri: webRedirect('oidc'), browser, extra: WITH_AUTH_TIME });
    assert.equal(again.page, undefined, 'no page');
    assert.equal(again.chooser, undefined, 'no chooser');
    assert.deepEqual(promptsSince(asked), ['none'], 'one silent request upstream');
    const leg = bridge.doubles.oidc.requests.authorize.at(-1)!;
    assert.ok(leg.get('state') && leg.get('nonce') && leg.get('code_challenge'), 'bound like any leg: state, nonce, PKCE');
    const claims = (await exchange(rp, again)).claims()!;
    assert.equal(claims.sub, first.sub);
    assert.equal(claims.auth_time, first.auth_time, 'nobody authenticated: auth_time stays');
  });

  for (const [name, prepare, error] of [
    ['login_required (the upstream session ended)', () => bridge.doubles.oidc.endSessions(), 'login_required'],
    ['interaction_required', () => bridge.doubles.oidc.setFault('prompt_none_interaction_required'), 'interaction_required'],
    ['consent_required', () => bridge.doubles.oidc.setFault('prompt_none_consent_required'), 'consent_required'],
  ] as const) {
    it(`${name}: the interactive leg at the same upstream, then a fresh login`, async () => {
      const { rp, browser, first, asked } = await signedIn();
      prepare();
      try {
        const again = await login(rp, { redirectUri: webRedirect('oidc'), browser, extra: WITH_AUTH_TIME });
        assert.equal(again.page, undefined, `no dead end: ${again.page?.status}`);
        assert.deepEqual(promptsSince(asked), ['none', null], 'silent first, then the interactive leg');
        const logged = bridge.logs.find((l) => l.msg === 'silent recheck not answered; interactive sign-in' && l.code === error);
        assert.ok(logged, `the fallback is logged with ${error}`);
        const claims = (await exchange(rp, again)).claims()!;
        assert.equal(claims.sub, first.sub);
        assert.ok(claims.auth_time! > first.auth_time!, 'a fresh authentication');
      } finally {
        bridge.doubles.oidc.setFault(undefined);
      }
    });
  }

  it('another person at the upstream: a new login with prompt=login, never a silent switch', async () => {
    const { rp, browser, first, asked } = await signedIn();
    const other = { ...DEFAULT_OIDC_USER, sub: 'user-2', name: 'Zhao Lei', preferred_username: 'zhaolei', email: 'zhaolei@example.test' };
    bridge.doubles.oidc.setSessionUser(other);
    bridge.doubles.oidc.setUser(other);
    try {
      const again = await login(rp, { redirectUri: webRedirect('oidc'), browser, extra: WITH_AUTH_TIME });
      assert.equal(again.page, undefined, `no dead end: ${again.page?.status}`);
      assert.deepEqual(promptsSince(asked), ['none', 'login'], 'silent first, then the upstream authenticates again');
      const claims = (await exchange(rp, again)).claims()!;
      assert.notEqual(claims.sub, first.sub, 'the other person, as a login of their own');
      assert.ok(claims.auth_time! > first.auth_time!, 'a fresh authentication, not the old session time');
    } finally {
      bridge.doubles.oidc.setUser(DEFAULT_OIDC_USER);
    }
  });

  it('an oauth2 upstream sends no prompt=none unless silentRecheck says so', async () => {
    const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
    const browser = new Browser();
    const first = (
      await exchange(rp, await login(rp, { redirectUri: webRedirect('idaas'), browser, pick: 'idaas', extra: WITH_AUTH_TIME }))
    ).claims()!;
    await clockPast(first.auth_time!);
    const asked = bridge.doubles.idaas.requests.authorize.length;
    const again = await login(rp, { redirectUri: webRedirect('idaas'), browser, extra: WITH_AUTH_TIME });
    assert.equal(again.page, undefined);
    assert.deepEqual(
      bridge.doubles.idaas.requests.authorize.slice(asked).map((q) => q.get('prompt')),
      [null],
      'the interactive leg only',
    );
    assert.ok((await exchange(rp, again)).claims()!.auth_time! > first.auth_time!, 'a fresh authentication');
  });
});

describe('silentRecheck: true on an oauth2 upstream', () => {
  let bridge: DoublesBridge;
  before(async () => {
    bridge = await startBridge({ upstream: 'doubles', upstreamConfig: { idaas: { recheckAfter: 0, silentRecheck: true } } });
  });
  after(() => bridge.close());

  it('asks with prompt=none first; the same person keeps the session auth_time', async () => {
    const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
    const browser = new Browser();
    const first = (
      await exchange(rp, await login(rp, { redirectUri: webRedirect('idaas'), browser, pick: 'idaas', extra: WITH_AUTH_TIME }))
    ).claims()!;
    await clockPast(first.auth_time!);
    const asked = bridge.doubles.idaas.requests.authorize.length;
    const again = await login(rp, { redirectUri: webRedirect('idaas'), browser, extra: WITH_AUTH_TIME });
    assert.equal(again.page, undefined);
    assert.deepEqual(
      bridge.doubles.idaas.requests.authorize.slice(asked).map((q) => q.get('prompt')),
      ['none'],
    );
    const claims = (await exchange(rp, again)).claims()!;
    assert.equal(claims.sub, first.sub);
    assert.equal(claims.auth_time, first.auth_time);
  });
});
