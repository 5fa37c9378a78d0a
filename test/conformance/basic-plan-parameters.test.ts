// oidcc-basic-certification-test-plan, part 2: the authentication request parameters of OIDC Core
// §3.1.2.1 (display, prompt, max_age, ui_locales, claims_locales, id_token_hint, login_hint,
// acr_values), unknown parameters, and the request sent as a form POST.
// Whether a login went to the upstream again is read from the browser's own history, so the tests
// run concurrently (the max_age clock waits overlap).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import type { Browser } from '../helpers/http-browser.js';
import { startOp, webClient, type Op } from './op.js';
import { headingOf, langOf, text } from './pages.js';
import { authorize, choose, clockPast, HtmlBrowser, redeem, signIn, validateIdToken, wentUpstream, type AuthRequest } from './rp.js';

describe('oidcc-basic-certification-test-plan: authentication request parameters', { concurrency: true }, () => {
  let op: Op;
  before(async () => {
    op = await startOp({
      clients: [
        webClient('rp-basic'),
        // Offered both upstreams: the bridge shows its chooser page, where display and ui_locales show.
        webClient('rp-chooser', { upstreams: undefined }),
      ],
    });
  });
  after(() => op?.close());

  /** Signs in with a fresh browser; returns the browser (now holding a session) and the validated ID token. */
  async function loggedIn(params: AuthRequest['params'] = {}) {
    const { leg, tokens } = await signIn(op, { clientId: 'rp-basic', params });
    const claims = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
    return { browser: leg.browser, idToken: tokens.id_token, claims };
  }

  /** A second request in the same browser: its ID token, and whether the upstream was asked again. */
  async function again(browser: Browser, params: AuthRequest['params']) {
    const since = browser.history.length;
    const leg = await authorize(op, { clientId: 'rp-basic', browser, params });
    const tokens = await redeem(op, leg);
    const claims = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
    return { claims, newLogin: wentUpstream(op, browser, since) };
  }

  for (const display of ['page', 'popup']) {
    it(`oidcc-display-${display}: display=${display} is accepted; the sign-in page renders and the flow completes`, async () => {
      const leg = await authorize(op, { clientId: 'rp-chooser', params: { display } });
      assert.equal(leg.page?.status, 200, 'the chooser page');
      const done = await choose(leg, 'corp');
      assert.ok(done.code, 'a code after choosing');
      await validateIdToken(op, (await redeem(op, done)).id_token, { clientId: 'rp-chooser', nonce: leg.params.nonce! });
    });
  }

  it('oidcc-prompt-login: prompt=login makes a signed-in person authenticate at the upstream again', async () => {
    const first = await loggedIn();
    await clockPast(first.claims.iat!);
    const { claims, newLogin } = await again(first.browser, { prompt: 'login' });
    assert.ok(newLogin, 'the upstream was asked again');
    assert.equal(claims.sub, first.claims.sub);
    assert.ok(typeof claims.auth_time === 'number' && claims.auth_time > first.claims.iat!, "auth_time is the new login's");
  });

  it('oidcc-prompt-none-not-logged-in: prompt=none without a session returns login_required to the redirect URI', async () => {
    const leg = await authorize(op, { clientId: 'rp-basic', params: { prompt: 'none' } });
    assert.equal(leg.page, undefined, 'no page is shown');
    assert.equal(leg.callback?.searchParams.get('error'), 'login_required');
    assert.equal(leg.callback?.searchParams.get('state'), leg.params.state);
    assert.equal(leg.callback?.searchParams.get('code'), null);
    assert.equal(wentUpstream(op, leg.browser), false);
  });

  it('oidcc-prompt-none-logged-in: prompt=none with a session returns a code silently, for the same subject', async () => {
    const first = await loggedIn();
    const { claims, newLogin } = await again(first.browser, { prompt: 'none' });
    assert.equal(newLogin, false);
    assert.equal(claims.sub, first.claims.sub);
  });

  it('oidcc-max-age-1: max_age=1 after more than a second forces a new login, and the ID token carries its auth_time', async () => {
    const first = await loggedIn();
    await clockPast(first.claims.iat! + 1);
    const { claims, newLogin } = await again(first.browser, { max_age: '1' });
    assert.ok(newLogin, 'the upstream was asked again');
    const authTime = claims.auth_time;
    assert.ok(typeof authTime === 'number', 'auth_time is required with max_age (OIDC Core §2)');
    assert.ok(authTime > first.claims.iat!, "auth_time is the new login's");
  });

  it("oidcc-max-age-10000: max_age=10000 reuses the session, and auth_time is the original login's", async () => {
    const first = await loggedIn();
    const { claims, newLogin } = await again(first.browser, { max_age: '10000' });
    assert.equal(newLogin, false);
    const authTime = claims.auth_time;
    assert.ok(typeof authTime === 'number', 'auth_time is required with max_age');
    assert.ok(authTime <= first.claims.iat!, 'auth_time is not later than the first login');
    assert.ok(Math.floor(Date.now() / 1000) - authTime < 10000);
  });

  it('oidcc-ensure-request-with-unknown-parameter-succeeds: an unknown parameter is ignored', async () => {
    const { claims } = await loggedIn({ 'x-conformance-extra': 'ignored-value', another_unknown: '1' });
    assert.equal(claims['x-conformance-extra'], undefined);
  });

  it('oidcc-id-token-hint: prompt=none with the previous ID token as id_token_hint answers silently for that subject', async () => {
    const first = await loggedIn();
    const { claims, newLogin } = await again(first.browser, { prompt: 'none', id_token_hint: first.idToken });
    assert.equal(newLogin, false);
    assert.equal(claims.sub, first.claims.sub);
  });

  it('oidcc-login-hint: login_hint is accepted and the login completes', async () => {
    const { claims } = await loggedIn({ login_hint: 'lina@example.test' });
    assert.equal(typeof claims.sub, 'string');
  });

  it('oidcc-ui-locales: ui_locales picks the page language (en, zh-CN) over Accept-Language', async () => {
    for (const [uiLocales, acceptLanguage, expected] of [
      ['en', 'zh-CN', 'en'],
      ['zh-CN', 'en', 'zh-CN'],
      ['fr-FR en', 'zh-CN', 'en'],
    ] as const) {
      const leg = await authorize(op, {
        clientId: 'rp-chooser',
        browser: new HtmlBrowser(acceptLanguage),
        params: { ui_locales: uiLocales },
      });
      assert.ok(leg.page, 'the chooser page');
      const { html, status } = leg.page;
      assert.equal(status, 200);
      assert.equal(langOf(html), expected, `ui_locales=${uiLocales}`);
      assert.equal(headingOf(html), text(expected, 'chooser.title'));
    }
    const leg = await authorize(op, { clientId: 'rp-chooser', params: { ui_locales: 'en' } });
    assert.ok((await choose(leg, 'corp')).code, 'the login completes');
  });

  it('oidcc-claims-locales: claims_locales is accepted and the login completes', async () => {
    const { claims } = await loggedIn({ scope: 'openid profile', claims_locales: 'zh-CN en' });
    assert.equal(typeof claims.name, 'string');
  });

  it('oidcc-ensure-request-with-acr-values-succeeds: acr_values is accepted (voluntary) and the login completes', async () => {
    const { idToken } = await loggedIn({ acr_values: 'urn:mace:incommon:iap:silver urn:mace:incommon:iap:bronze' });
    assert.equal(typeof decodeJwt(idToken).sub, 'string');
  });

  it('oidcc-ensure-post-request-succeeds: the authentication request sent as a form POST succeeds', async () => {
    const leg = await authorize(op, { clientId: 'rp-basic', post: true });
    const tokens = await redeem(op, leg);
    await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
  });
});
