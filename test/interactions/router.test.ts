import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser } from '../helpers/http-browser.js';
import { identityOf, startHarness, UPSTREAM_AUTHORIZE, type Harness } from './harness.js';
import { leakedSecrets } from '../helpers/leaks.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());
beforeEach(() => {
  h.interactions.calls.length = 0;
  h.accounts.marks.length = 0;
  for (const u of h.upstreams) {
    u.recheckAnswer = undefined;
    u.rechecks = 0;
  }
});

const uid = () => `uid-${randomUUID()}`;
const url = (path: string) => `${h.issuer}${path}`;

async function page(browser: Browser, path: string, init?: RequestInit) {
  const response = await browser.fetch(url(path), init);
  return { response, status: response.status, location: response.headers.get('location'), html: await response.text() };
}

/** The hidden CSRF field of the first form on a page. */
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

function post(browser: Browser, path: string, fields: Record<string, string>) {
  return page(browser, path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Starts the leg for `id` and returns the state the bridge sent upstream. */
async function startLeg(browser: Browser, id: string, upstream: string): Promise<string> {
  const start = await page(browser, `/interaction/${id}/upstream/${upstream}`);
  assert.equal(start.status, 302, start.html);
  const location = new URL(start.location!);
  assert.equal(`${location.origin}${location.pathname}`, UPSTREAM_AUTHORIZE);
  return location.searchParams.get('state')!;
}

function assertPageHeaders(response: Response) {
  assert.match(
    response.headers.get('content-security-policy')!,
    /^default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'[^;]*; frame-ancestors 'none'; base-uri 'none'$/,
  );
  assert.equal(response.headers.get('x-frame-options'), 'DENY');
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(response.headers.get('cache-control'), 'no-store');
}

describe('login prompt', () => {
  it('shows the chooser with the client’s upstreams, names per locale, and a cancel form', async () => {
    const id = uid();
    h.interactions.add({ uid: id, params: { ui_locales: 'en' }, clientName: 'Demo <App>' });
    const { status, html, response } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 200);
    assertPageHeaders(response);
    assert.match(response.headers.get('content-security-policy')!, /form-action 'self' https:\/\/rp\.example\.test;/);
    assert.match(html, /<html lang="en">/);
    assert.match(html, /to continue to Demo &lt;App&gt;/);
    assert.ok(html.includes(`href="/sso/interaction/${id}/upstream/dingtalk"`));
    assert.ok(html.includes(`href="/sso/interaction/${id}/upstream/idaas"`));
    assert.match(html, /Continue with DingTalk/);
    assert.match(html, /Continue with Aliyun IDaaS/);
    assert.ok(html.includes(`action="/sso/interaction/${id}/abort"`));
    assert.ok(csrfOf(html));
  });

  it('speaks Chinese by Accept-Language, and switches language with ?lang', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const zh = await page(browser, `/interaction/${id}`, { headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.5' } });
    assert.match(zh.html, /<html lang="zh-CN">/);
    assert.match(zh.html, /使用钉钉登录/);
    assert.match(zh.html, /使用 Aliyun IDaaS 登录/);
    assert.ok(zh.html.includes(`href="/sso/interaction/${id}?lang=en"`));
    const en = await page(browser, `/interaction/${id}?lang=en`, { headers: { 'accept-language': 'zh-CN' } });
    assert.match(en.html, /<html lang="en">/);
  });

  it('goes straight to the upstream the request names, with a fresh leg and no hop through the start route', async () => {
    const id = uid();
    h.interactions.add({ uid: id, params: { upstream: 'idaas' } });
    const browser = await h.browser(id);
    const { status, location } = await page(browser, `/interaction/${id}`);
    assert.equal(status, 302);
    const upstream = new URL(location!);
    assert.equal(`${upstream.origin}${upstream.pathname}`, UPSTREAM_AUTHORIZE);
    // The leg works: the upstream's callback with that state finishes this interaction.
    const done = await page(browser, `/upstream/idaas/callback?state=${upstream.searchParams.get('state')}&code=alice`);
    assert.equal(done.status, 303, done.html);
    assert.equal(h.interactions.calls.at(-1)?.uid, id);
  });

  it('goes straight to the only upstream a client allows', async () => {
    const id = uid();
    h.interactions.add({ uid: id, clientId: 'cli' });
    const { status, location } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 302);
    const upstream = new URL(location!);
    assert.equal(`${upstream.origin}${upstream.pathname}`, UPSTREAM_AUTHORIZE);
  });

  it('answers invalid_request for an unknown or disallowed upstream, never a silent fallback', async () => {
    for (const [clientId, requested] of [
      ['app', 'github'],
      ['cli', 'dingtalk'],
      ['app', 'x"<y>'],
    ] as const) {
      const id = uid();
      h.interactions.add({ uid: id, clientId, params: { upstream: requested } });
      const { status, location } = await page(await h.browser(id), `/interaction/${id}`);
      assert.equal(status, 303);
      assert.equal(location, url(`/auth/${id}`));
      const call = h.interactions.calls.find((c) => c.uid === id)!;
      assert.equal(call.fn, 'finishError');
      assert.equal(call.args[0], 'invalid_request');
      assert.match(String(call.args[1]), /^unknown upstream: [A-Za-z0-9._?-]+$/);
    }
  });

  it('shows the expired page for a gone interaction or one of another browser', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const stranger = await page(await h.browser(), `/interaction/${id}`);
    assert.equal(stranger.status, 400);
    assert.match(stranger.html, /登录页面已过期|sign-in page has expired/);
    const gone = await page(await h.browser('nope'), '/interaction/nope', { headers: { 'accept-language': 'en' } });
    assert.equal(gone.status, 400);
    assert.match(gone.html, /This sign-in page has expired/);
    assert.equal(h.interactions.calls.length, 0);
  });
});

describe('upstream leg', () => {
  it('starts a fresh leg whatever callback parameters someone put in the URL that starts it', async () => {
    for (const path of ['/interaction/{id}', '/interaction/{id}/upstream/idaas']) {
      const id = uid();
      h.interactions.add({ uid: id, params: { upstream: 'idaas' } });
      const browser = await h.browser(id);
      const start = await page(browser, `${path.replace('{id}', id)}?state=forged&code=alice&error=x`);
      assert.equal(start.status, 302, `${path}: ${start.html}`);
      const upstream = new URL(start.location!);
      assert.equal(`${upstream.origin}${upstream.pathname}`, UPSTREAM_AUTHORIZE);
      assert.notEqual(upstream.searchParams.get('state'), 'forged');
      assert.equal(h.interactions.calls.length, 0, 'nothing finished');
    }
  });

  it('starts with a binding cookie on the callback path and finishes the login in the same browser', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const start = await page(browser, `/interaction/${id}/upstream/idaas`);
    assert.equal(start.status, 302);
    assert.equal(start.response.headers.get('referrer-policy'), 'no-referrer');
    const cookie = start.response.headers.getSetCookie().find((c) => c.startsWith('oidcb_leg_'));
    assert.match(cookie!, /; Max-Age=\d+; Path=\/sso\/upstream\/idaas\/callback; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    const state = new URL(start.location!).searchParams.get('state')!;

    const done = await page(browser, `/upstream/idaas/callback?state=${state}&code=alice`);
    assert.equal(done.status, 303);
    assert.equal(done.location, url(`/auth/${id}`));
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishLogin', uid: id, args: [{ accountId: 'sub-alice', amr: ['oauth2'] }] }]);
    assert.deepEqual(leakedSecrets(JSON.stringify(h.lines), [state]), [], 'the state reached a log line');
  });

  it('refuses a replayed callback and one finished in another browser, finishing nobody’s login', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'idaas');
    const elsewhere = await page(await h.browser(), `/upstream/idaas/callback?state=${state}&code=mallory`, {
      headers: { 'accept-language': 'en' },
    });
    assert.equal(elsewhere.status, 400);
    assert.match(elsewhere.html, /This sign-in link is no longer valid/);
    assertPageHeaders(elsewhere.response);
    assert.equal(h.interactions.calls.length, 0);

    assert.equal((await page(browser, `/upstream/idaas/callback?state=${state}&code=alice`)).status, 303);
    const replay = await page(browser, `/upstream/idaas/callback?state=${state}&code=alice`);
    assert.equal(replay.status, 400);
    assert.equal(h.interactions.calls.length, 1);
  });

  it('refuses to start an upstream the client does not allow', async () => {
    const id = uid();
    h.interactions.add({ uid: id, clientId: 'cli' });
    const { status, location } = await page(await h.browser(id), `/interaction/${id}/upstream/dingtalk`);
    assert.equal(status, 303);
    assert.equal(location, url(`/auth/${id}`));
    assert.deepEqual(h.interactions.calls[0]?.args, ['invalid_request', 'unknown upstream: dingtalk']);
  });

  it('sends a cancelled sign-in back to the client as access_denied', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'dingtalk');
    const { status, location } = await page(browser, `/upstream/dingtalk/callback?state=${state}&error=access_denied`);
    assert.equal(status, 303);
    assert.equal(location, url(`/auth/${id}`));
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishError', uid: id, args: ['access_denied', 'sign-in cancelled'] }]);
  });

  it('does not let a cancelled callback from another browser end the interaction', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const state = await startLeg(await h.browser(id), id, 'dingtalk');
    const { status } = await page(await h.browser(), `/upstream/dingtalk/callback?state=${state}&error=access_denied`);
    assert.equal(status, 400);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('shows “not allowed” (403) with the upstream’s hint, escaped, and a way back to the client', async () => {
    const id = uid();
    h.interactions.add({ uid: id, params: { ui_locales: 'en' }, clientName: 'Demo App' });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'dingtalk');
    const { status, html, response } = await page(browser, `/upstream/dingtalk/callback?state=${state}&code=notmember`);
    assert.equal(status, 403);
    assertPageHeaders(response);
    assert.match(html, /Your DingTalk account is not allowed to sign in to Demo App\./);
    assert.match(html, /You are not a member of the organisation Acme &lt;Corp&gt;\./);
    assert.match(html, /Reference: [0-9a-f-]{36}/);
    // The way back: abort with a CSRF token, which ends the interaction with access_denied.
    const back = await post(browser, `/interaction/${id}/abort`, { csrf: csrfOf(html)! });
    assert.equal(back.status, 303);
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishError', uid: id, args: ['access_denied', 'the user cancelled the sign-in'] }]);
  });

  it('shows “ask your administrator” (502) with the detail code', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'dingtalk');
    const { status, html } = await page(browser, `/upstream/dingtalk/callback?state=${state}&code=perm`);
    assert.equal(status, 502);
    assert.match(html, /登录配置有误/);
    assert.match(html, /钉钉应用缺少权限“qyapi_get_member”/);
    assert.match(html, /详细代码：qyapi_get_member/);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('names the upstream and offers a retry when it is unavailable or fails', async () => {
    for (const code of ['down', 'boom']) {
      const id = uid();
      h.interactions.add({ uid: id, params: { ui_locales: 'en' } });
      const browser = await h.browser(id);
      const state = await startLeg(browser, id, 'idaas');
      const { status, html } = await page(browser, `/upstream/idaas/callback?state=${state}&code=${code}`);
      assert.equal(status, 502);
      assert.match(html, /Aliyun IDaaS didn’t respond/);
      assert.ok(html.includes(`href="/sso/interaction/${id}"`), 'a retry link to the login page');
      assert.doesNotMatch(html, /strategy bug|timeout/);
      // The retry shows the chooser again: the interaction is still alive.
      assert.equal((await page(browser, `/interaction/${id}`)).status, 200);
    }
    assert.equal(h.interactions.calls.length, 0);
  });

  it('offers no retry when the interaction is gone, and never finishes it', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'idaas');
    h.interactions.views.delete(id);
    const { status, html } = await page(browser, `/upstream/idaas/callback?state=${state}&code=down`);
    assert.equal(status, 502);
    assert.doesNotMatch(html, /interaction\//);
    const late = await page(browser, `/interaction/${id}/upstream/idaas`);
    assert.equal(late.status, 400);
  });

  it('shows the expired page when the interaction ended while the person was at the upstream', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'idaas');
    h.interactions.views.delete(id);
    const { status, html } = await page(browser, `/upstream/idaas/callback?state=${state}&code=alice`);
    assert.equal(status, 400);
    assert.match(html, /登录页面已过期/);
  });

  /** An English login through idaas whose upstream answers `code`: the callback's answer. */
  async function callbackWithCode(code: string) {
    const id = uid();
    h.interactions.add({ uid: id, params: { ui_locales: 'en' } });
    const browser = await h.browser(id);
    const state = await startLeg(browser, id, 'idaas');
    return page(browser, `/upstream/idaas/callback?state=${state}&code=${code}`);
  }

  it('refuses a disabled account with the not-allowed page', async () => {
    const { status, html } = await callbackWithCode('disabled');
    assert.equal(status, 403);
    assert.match(html, /This account has been disabled\./);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('answers an account too contended to write (dozens of logins at once) with the try-again page, not a 500', async () => {
    const { status, html } = await callbackWithCode('busy');
    assert.equal(status, 503);
    assert.match(html, /Sign-in is temporarily unavailable/);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('answers two upstreams giving one subject (legacySubject) with the ask-your-admin page, not a 500', async () => {
    const { status, html } = await callbackWithCode('collision');
    assert.equal(status, 502);
    assert.match(html, /Sign-in isn’t set up correctly/);
    assert.doesNotMatch(html, /oauth2:other\.example\.test/, "the other person's link domain is not shown");
    assert.equal(h.interactions.calls.length, 0);
  });

  it('answers 404 for an unknown upstream callback and falls through for unknown paths', async () => {
    const browser = await h.browser();
    assert.equal((await page(browser, '/upstream/nope/callback?state=x')).status, 404);
    const other = await page(browser, '/token');
    assert.equal(other.html, 'fell through');
    assert.equal(other.response.headers.get('content-security-policy'), null, 'no page headers on routes not ours');
  });
});

describe('failures', () => {
  it('answers 503 with a clear page while the store is unreachable', async () => {
    const { status, html, response } = await page(await h.browser(), '/interaction/store-down', { headers: { 'accept-language': 'en' } });
    assert.equal(status, 503);
    assertPageHeaders(response);
    assert.match(html, /Sign-in is temporarily unavailable/);
  });

  it('answers an unexpected error with a 500 page and a reference, never the error itself', async () => {
    const { status, html } = await page(await h.browser(), '/interaction/bug', { headers: { 'accept-language': 'en' } });
    assert.equal(status, 500);
    assert.match(html, /Something went wrong/);
    const reference = /Reference: ([0-9a-f-]{36})/.exec(html)?.[1];
    assert.ok(reference);
    assert.doesNotMatch(html, /internal detail|token=|at .*\.ts/);
    assert.ok(
      h.lines.some((line) => JSON.stringify(line).includes(reference) && line.msg.includes('interaction failed')),
      'the log line carries the reference',
    );
  });
});

describe('recheck of a reused session', () => {
  /** `checkedAt`: the account's last good membership check, epoch seconds (default: long ago). */
  function sessionInteraction(reasons = ['recheck_due'], checkedAt = 0) {
    const id = uid();
    const account = h.accounts.put('sub-bob', identityOf('dingtalk', 'bob'), 'active', checkedAt);
    h.interactions.add({ uid: id, reasons, session: { accountId: account.sub }, params: { ui_locales: 'en' } });
    return id;
  }

  it('finishes the login with the same account when the upstream confirms the person', async () => {
    const id = sessionInteraction();
    const { status, location } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 303);
    assert.equal(location, url(`/auth/${id}`));
    assert.deepEqual(h.accounts.marks, [{ fn: 'markChecked', sub: 'sub-bob' }]);
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishLogin', uid: id, args: [{ accountId: 'sub-bob', amr: ['dingtalk'] }] }]);
  });

  it('marks the account left and shows the not-allowed page when the person left', async () => {
    h.upstreams[0]!.recheckAnswer = 'revoked';
    const id = sessionInteraction();
    const { status, html } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 403);
    assert.match(html, /no longer a member of the organisation/);
    assert.deepEqual(h.accounts.marks, [{ fn: 'markLeft', sub: 'sub-bob' }]);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('shows the upstream error page with a retry when the upstream cannot tell', async () => {
    h.upstreams[0]!.recheckAnswer = 'unavailable';
    const id = sessionInteraction();
    const { status, html } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 502);
    assert.match(html, /DingTalk didn’t respond/);
    assert.ok(html.includes(`href="/sso/interaction/${id}"`));
    assert.equal(h.accounts.marks.length, 0);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('reuses the session while the upstream cannot tell but the last check is within recheckGrace', async () => {
    h.upstreams[0]!.recheckAnswer = 'unavailable';
    // The harness's upstreams have no recheck keys of their own: the schema's 30 min grace applies.
    const id = sessionInteraction(['recheck_due'], Math.floor(Date.now() / 1000) - 60);
    const { status, location } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 303);
    assert.equal(location, url(`/auth/${id}`));
    assert.equal(h.upstreams[0]!.rechecks, 1);
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishLogin', uid: id, args: [{ accountId: 'sub-bob', amr: ['dingtalk'] }] }]);
    assert.equal(h.accounts.marks.length, 0, 'nothing was confirmed: the last check stays as it was');
  });

  it('does not reuse the session once the last good check is older than recheckGrace', async () => {
    h.upstreams[0]!.recheckAnswer = 'unavailable';
    const id = sessionInteraction(['recheck_due'], Math.floor(Date.now() / 1000) - 31 * 60);
    const { status, html } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 502);
    assert.match(html, /DingTalk didn’t respond/);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('sends a person whose identity now links to another account through a fresh upstream leg', async () => {
    h.upstreams[0]!.recheckAnswer = 'relinked';
    const id = sessionInteraction();
    const { status, html } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 200);
    assert.match(html, /Continue with DingTalk/);
    assert.equal(h.interactions.calls.length, 0);
  });

  it('never answers a 500, whatever the recheck says', async () => {
    for (const answer of ['identity', 'revoked', 'unavailable', 'relinked', 'broken'] as const) {
      for (const checkedAt of [0, Math.floor(Date.now() / 1000) - 60]) {
        h.upstreams[0]!.recheckAnswer = answer;
        const id = sessionInteraction(['recheck_due'], checkedAt);
        const { status } = await page(await h.browser(id), `/interaction/${id}`);
        assert.ok([200, 303, 403, 502].includes(status), `${answer}, checked at ${checkedAt}: ${status}`);
      }
    }
    const tombstoned = uid();
    h.accounts.put('sub-tomb', identityOf('dingtalk', 'tomb'), 'tombstoned');
    h.interactions.add({ uid: tombstoned, reasons: ['recheck_due'], session: { accountId: 'sub-tomb' }, params: { ui_locales: 'en' } });
    const { status, html } = await page(await h.browser(tombstoned), `/interaction/${tombstoned}`);
    assert.equal(status, 403);
    assert.match(html, /This account has been disabled\./);
  });

  it('sends a due session of an upstream that cannot be asked (oauth2, oidc) straight through that upstream again', async () => {
    const idaas = h.upstreams.find((u) => u.id === 'idaas')!;
    const { recheck } = idaas;
    delete idaas.recheck;
    try {
      const id = uid();
      const account = h.accounts.put('sub-carol', identityOf('idaas', 'carol'));
      h.interactions.add({ uid: id, reasons: ['recheck_due'], session: { accountId: account.sub }, params: { ui_locales: 'en' } });
      const { status, location } = await page(await h.browser(id), `/interaction/${id}`);
      assert.equal(status, 302, 'no chooser, although the client offers two upstreams');
      const upstream = new URL(location!);
      assert.equal(`${upstream.origin}${upstream.pathname}`, UPSTREAM_AUTHORIZE);
      assert.equal(h.interactions.calls.length, 0, 'the session is not reused');
    } finally {
      idaas.recheck = recheck;
    }
  });

  it('does not recheck when the login is forced (prompt=login, max_age): a fresh leg decides', async () => {
    const id = sessionInteraction(['login', 'recheck_due']);
    const { status, html } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 200);
    assert.match(html, /Continue with DingTalk/);
    assert.equal(h.upstreams[0]!.rechecks, 0);
  });
});

describe('consent prompt', () => {
  function consentInteraction(clientId = 'app') {
    const id = uid();
    h.accounts.put('sub-carol', { ...identityOf('idaas', 'carol'), name: '王小明' });
    h.interactions.add({
      uid: id,
      clientId,
      prompt: 'consent',
      reasons: ['op_scopes_missing'],
      session: { accountId: 'sub-carol' },
      missingScopes: ['openid', 'profile', 'email', 'offline_access'],
      missingClaims: [],
      clientName: 'Grafana',
    });
    return id;
  }

  it('is answered by the bridge for skipConsent clients', async () => {
    const id = consentInteraction('cli');
    const { status, location } = await page(await h.browser(id), `/interaction/${id}`);
    assert.equal(status, 303);
    assert.equal(location, url(`/auth/${id}`));
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishConsent', uid: id, args: [] }]);
  });

  it('shows what the client asks for in words, and allows with a valid CSRF token only', async () => {
    const id = consentInteraction();
    const browser = await h.browser(id);
    const shown = await page(browser, `/interaction/${id}`, { headers: { 'accept-language': 'zh-CN' } });
    assert.equal(shown.status, 200);
    assertPageHeaders(shown.response);
    assert.match(shown.html, /允许 Grafana 访问你的账号？/);
    assert.match(shown.html, /当前账号：王小明 \(carol\)/);
    assert.match(shown.html, /查看你的邮箱地址/);
    assert.match(shown.html, /在你未使用时保持访问/);
    const token = csrfOf(shown.html)!;

    const forged = await post(browser, `/interaction/${id}/consent`, { csrf: 'forged' });
    assert.equal(forged.status, 403);
    const missing = await post(browser, `/interaction/${id}/consent`, {});
    assert.equal(missing.status, 403);
    const otherBrowser = await post(await h.browser(id), `/interaction/${id}/consent`, { csrf: token });
    assert.equal(otherBrowser.status, 403);
    assert.equal(h.interactions.calls.length, 0);

    const allowed = await post(browser, `/interaction/${id}/consent`, { csrf: token });
    assert.equal(allowed.status, 303);
    assert.equal(allowed.location, url(`/auth/${id}`));
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishConsent', uid: id, args: [] }]);
  });

  it('denies with access_denied through the abort form', async () => {
    const id = consentInteraction();
    const browser = await h.browser(id);
    const shown = await page(browser, `/interaction/${id}`);
    assert.ok(shown.html.includes(`formaction="/sso/interaction/${id}/abort"`));
    const denied = await post(browser, `/interaction/${id}/abort`, { csrf: csrfOf(shown.html)! });
    assert.equal(denied.status, 303);
    assert.deepEqual(h.interactions.calls, [{ fn: 'finishError', uid: id, args: ['access_denied', 'the user cancelled the sign-in'] }]);
  });

  it('refuses a token of another interaction and oversized or malformed bodies', async () => {
    const a = consentInteraction();
    const b = consentInteraction();
    const browser = await h.browser(a);
    const tokenA = csrfOf((await page(browser, `/interaction/${a}`)).html)!;
    const browserB = await h.browser(b);
    await page(browserB, `/interaction/${b}`);
    assert.equal((await post(browserB, `/interaction/${b}/consent`, { csrf: tokenA })).status, 403);
    const huge = await post(browser, `/interaction/${a}/consent`, { csrf: tokenA, pad: 'x'.repeat(20_000) });
    assert.equal(huge.status, 400);
    assert.equal(h.interactions.calls.length, 0);
  });
});

describe('assets', () => {
  it('serves the stylesheet, cacheable for its versioned URL', async () => {
    const id = uid();
    h.interactions.add({ uid: id });
    const browser = await h.browser(id);
    const href = /<link rel="stylesheet" href="([^"]+)"/.exec((await page(browser, `/interaction/${id}`)).html)![1]!;
    const css = await browser.fetch(`${h.base}${href}`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type')!, /^text\/css/);
    assert.match(css.headers.get('cache-control')!, /immutable/);
    assert.match(await css.text(), /\.card \{/);
    const again = await browser.fetch(`${h.base}${href}`, { headers: { 'if-none-match': css.headers.get('etag')! } });
    assert.equal(again.status, 304);
  });
});

describe('issuer at the root', () => {
  it('mounts every route without a path prefix', async () => {
    const root = await startHarness({ path: '' });
    try {
      const id = uid();
      root.interactions.add({ uid: id, params: { upstream: 'idaas' } });
      const browser = await root.browser(id);
      // The start route the chooser links to, and the interaction URL that starts the leg itself.
      const viaStartRoute = await browser.fetch(`${root.issuer}/interaction/${id}/upstream/idaas`);
      assert.equal(viaStartRoute.status, 302);
      const start = await browser.fetch(`${root.issuer}/interaction/${id}`);
      assert.match(start.headers.getSetCookie().join(), /Path=\/upstream\/idaas\/callback;/);
      const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
      const done = await browser.fetch(`${root.issuer}/upstream/idaas/callback?state=${state}&code=dave`);
      assert.equal(done.status, 303);
      assert.equal(done.headers.get('location'), `${root.issuer}/auth/${id}`);
    } finally {
      await root.close();
    }
  });
});
