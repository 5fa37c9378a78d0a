// oidcc-rp-initiated-logout-certification-test-plan: OpenID Connect RP-Initiated Logout 1.0.
// Each module signs in first (a browser with a session at the OP), then calls the end_session_endpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, SignJWT, generateKeyPair } from 'jose';
import { POST_LOGOUT, POST_LOGOUT_WITH_QUERY, startOp, webClient, type Op } from './op.js';
import { confirm, endSession } from './logout.js';
import { assertErrorPage, headingOf, text } from './pages.js';
import { authorize, discover, signIn, type Landing } from './rp.js';

describe('oidcc-rp-initiated-logout-certification-test-plan', { concurrency: true }, () => {
  let op: Op;
  before(async () => {
    op = await startOp({ clients: [webClient('rp-basic')] });
  });
  after(() => op?.close());

  async function loggedIn() {
    const { leg, tokens } = await signIn(op, { clientId: 'rp-basic' });
    return { browser: leg.browser, idToken: tokens.id_token };
  }

  /** Whether the browser still has a session at the OP: prompt=none answers with a code, or login_required. */
  async function hasSession(browser: Landing['browser']): Promise<boolean> {
    const leg = await authorize(op, { clientId: 'rp-basic', browser, params: { prompt: 'none' } });
    const error = leg.callback?.searchParams.get('error');
    assert.ok(leg.code || error === 'login_required', `prompt=none answers a code or login_required, got ${error}`);
    return Boolean(leg.code);
  }

  /** The confirmation page: status 200, in the default language, naming the client when the OP knows it. */
  function assertConfirmationPage(landing: Landing, clientKnown: boolean) {
    assert.equal(landing.callback, undefined, 'no redirect before the person confirms');
    assert.equal(landing.page?.status, 200);
    assert.equal(headingOf(landing.page.html), text('zh-CN', 'logout.title'));
    const naming = text('zh-CN', 'logout.fromClient', { client: 'Conformance rp-basic' });
    assert.equal(landing.page.html.includes(naming), clientKnown, clientKnown ? 'the client is named' : 'no client is named');
  }

  /** The "signed out" page, not a redirect. */
  function assertSignedOutPage(landing: Landing) {
    assert.equal(landing.callback, undefined, 'no redirect to the client');
    assert.equal(landing.page?.status, 200);
    assert.equal(headingOf(landing.page.html), text('zh-CN', 'logout.successTitle'));
  }

  it('oidcc-rp-initiated-logout-discovery-endpoint-verification: discovery advertises an end_session_endpoint under the issuer', async () => {
    const endpoint = (await discover(op)).end_session_endpoint;
    assert.equal(typeof endpoint, 'string');
    assert.ok(endpoint.startsWith(`${op.issuer}/`));
    assert.notEqual((await fetch(endpoint)).status, 404);
  });

  it('oidcc-rp-initiated-logout: with id_token_hint, a registered post_logout_redirect_uri and state, the OP confirms, ends the session and redirects with state', async () => {
    const { browser, idToken } = await loggedIn();
    const page = await endSession(op, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'logout-state-1' }, browser);
    assertConfirmationPage(page, true);
    const done = await confirm(page);
    assert.ok(done.callback, `redirected, not ${done.page?.status}`);
    assert.equal(`${done.callback.origin}${done.callback.pathname}`, POST_LOGOUT);
    assert.equal(done.callback.searchParams.get('state'), 'logout-state-1');
    assert.equal(await hasSession(browser), false, 'the session at the OP has ended');
  });

  it('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an unregistered post_logout_redirect_uri gets an error page, never a redirect', async () => {
    const { browser, idToken } = await loggedIn();
    const landing = await endSession(
      op,
      { id_token_hint: idToken, post_logout_redirect_uri: 'https://rp.example.test/not-registered', state: 's' },
      browser,
    );
    assert.equal(landing.callback, undefined);
    assertErrorPage(landing.page, 'invalid_request');
    assert.equal(await hasSession(browser), true, 'nothing was ended');
  });

  it('oidcc-rp-initiated-logout-modified-id-token-hint: an ID token whose payload was altered gets an error page, never a redirect', async () => {
    const { browser, idToken } = await loggedIn();
    const [header, , signature] = idToken.split('.');
    const altered = Buffer.from(JSON.stringify({ ...decodeJwt(idToken), sub: 'someone-else' })).toString('base64url');
    const landing = await endSession(
      op,
      { id_token_hint: `${header}.${altered}.${signature}`, post_logout_redirect_uri: POST_LOGOUT, state: 's' },
      browser,
    );
    assert.equal(landing.callback, undefined);
    assertErrorPage(landing.page, 'invalid_request');
    assert.equal(await hasSession(browser), true);
  });

  it('oidcc-rp-initiated-logout-no-id-token-hint: without id_token_hint the client is unknown: confirmation without a client name, then no redirect', async () => {
    const { browser } = await loggedIn();
    const page = await endSession(op, { post_logout_redirect_uri: POST_LOGOUT, state: 's' }, browser);
    assertConfirmationPage(page, false);
    assertSignedOutPage(await confirm(page));
    assert.equal(await hasSession(browser), false);
  });

  it('oidcc-rp-initiated-logout-no-params: no parameters at all: confirmation, then the signed-out page', async () => {
    const { browser } = await loggedIn();
    const page = await endSession(op, {}, browser);
    assertConfirmationPage(page, false);
    assertSignedOutPage(await confirm(page));
    assert.equal(await hasSession(browser), false);
  });

  it('oidcc-rp-initiated-logout-no-post-logout-redirect-uri: id_token_hint alone: confirmation naming the client, then the signed-out page', async () => {
    const { browser, idToken } = await loggedIn();
    const page = await endSession(op, { id_token_hint: idToken, state: 's' }, browser);
    assertConfirmationPage(page, true);
    assertSignedOutPage(await confirm(page));
    assert.equal(await hasSession(browser), false);
  });

  it('oidcc-rp-initiated-logout-no-state: without state the redirect carries no state parameter', async () => {
    const { browser, idToken } = await loggedIn();
    const done = await confirm(await endSession(op, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT }, browser));
    assert.ok(done.callback);
    assert.equal(done.callback.href, POST_LOGOUT, 'exactly the registered URI');
    assert.equal(await hasSession(browser), false);
  });

  it('oidcc-rp-initiated-logout-only-state: state alone (no client, no redirect URI): confirmation, then the signed-out page', async () => {
    const { browser } = await loggedIn();
    const page = await endSession(op, { state: 'only-state' }, browser);
    assertConfirmationPage(page, false);
    const done = await confirm(page);
    assertSignedOutPage(done);
    assert.ok(!done.page!.html.includes('only-state'), 'the state goes nowhere');
  });

  it('oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri: a query is kept when registered exactly, and an added one is refused', async () => {
    const first = await loggedIn();
    const refused = await endSession(
      op,
      { id_token_hint: first.idToken, post_logout_redirect_uri: `${POST_LOGOUT}?added=1`, state: 's' },
      first.browser,
    );
    assert.equal(refused.callback, undefined);
    assertErrorPage(refused.page, 'invalid_request');
    const done = await confirm(
      await endSession(
        op,
        { id_token_hint: first.idToken, post_logout_redirect_uri: POST_LOGOUT_WITH_QUERY, state: 'q-state' },
        first.browser,
      ),
    );
    assert.ok(done.callback);
    assert.equal(`${done.callback.origin}${done.callback.pathname}`, new URL(POST_LOGOUT_WITH_QUERY).href.split('?')[0]);
    assert.equal(done.callback.searchParams.get('from'), 'op', 'the registered query is kept (RP-Initiated Logout §3)');
    assert.equal(done.callback.searchParams.get('state'), 'q-state');
  });

  it('oidcc-rp-initiated-logout-bad-id-token-hint: an ID token the OP never issued (foreign key) gets an error page, never a redirect', async () => {
    const { browser, idToken } = await loggedIn();
    const { privateKey } = await generateKeyPair('RS256');
    const claims = decodeJwt(idToken);
    const foreign = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: 'not-a-published-kid' }).sign(privateKey);
    const landing = await endSession(op, { id_token_hint: foreign, post_logout_redirect_uri: POST_LOGOUT, state: 's' }, browser);
    assert.equal(landing.callback, undefined);
    assertErrorPage(landing.page, 'invalid_request');
    assert.equal(await hasSession(browser), true);
  });
});
