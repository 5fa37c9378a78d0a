// login.dingtalk.com/oauth2/auth (and the legacy SNS pages) driven over HTTP, as a browser would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  SANDBOX_CORP_ID,
  SANDBOX_OTHER_CORP_ID,
  sampleUserids,
  snsSignature,
} from '../../src/sandbox/index.js';
import { authorizeUrl, hiddenFields, manualClock, postJson, REDIRECT_URI, startSandbox, userTokens, type Running } from './helpers.js';

async function loginPage(url: string) {
  const res = await fetch(url, { redirect: 'manual' });
  return { res, html: await res.text() };
}

/** Posts the login form back with one of its buttons pressed; returns the redirect target. */
async function choose(
  pageUrl: string,
  button: Record<string, string>,
): Promise<{ status: number; location: URL | undefined; html: string }> {
  const { html } = await loginPage(pageUrl);
  const action = new URL(/action="([^"]+)"/.exec(html)?.[1] ?? '', pageUrl);
  const res = await fetch(action, { method: 'POST', body: new URLSearchParams({ ...hiddenFields(html), ...button }), redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : undefined, html: await res.text() };
}

describe('login page /oauth2/auth', () => {
  let run: Running;
  const clock = manualClock();
  before(async () => {
    run = await startSandbox({ clock: clock.now });
  });
  after(() => run.close());

  it('lists every sample person as a button, in Chinese and English, without scripts', async () => {
    const { res, html } = await loginPage(authorizeUrl(run.url));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    for (const person of run.sandbox.org.people) assert.ok(html.includes(`value="${person.userid}"`), person.name);
    assert.ok(html.includes('sign in as 王芳 (研发中心/平台组)'));
    assert.ok(html.includes('以 王芳 (市场部/华东区) 登录'));
    assert.ok(html.includes('name="deny"'));
    assert.doesNotMatch(html, /<script|https?:\/\/[^"]*\.(js|css)/);
  });

  it('redirects with authCode (not code) and state, and the code is single use', async () => {
    const { status, location } = await choose(authorizeUrl(run.url), { userid: sampleUserids.manager });
    assert.equal(status, 302);
    assert.equal(`${location?.origin}${location?.pathname}`, REDIRECT_URI);
    assert.equal(location?.searchParams.get('state'), 'st-123');
    assert.equal(location?.searchParams.has('code'), false);
    const code = location?.searchParams.get('authCode') ?? '';
    assert.match(code, /^[0-9a-f]{32}$/);
    const first = await userTokens(run.url, code);
    assert.equal(first.status, 200);
    assert.equal(first.body.corpId, SANDBOX_CORP_ID);
    assert.equal(first.body.expireIn, 7200);
    const again = await userTokens(run.url, code);
    assert.equal(again.status, 400);
    assert.equal(again.body.code, 'invalidParameter.authCode.notFound');
  });

  it('reports corpId only when scope includes corpid', async () => {
    const { location } = await choose(authorizeUrl(run.url, { scope: 'openid' }), { userid: sampleUserids.manager });
    const res = await userTokens(run.url, location?.searchParams.get('authCode') ?? '');
    assert.equal(res.status, 200);
    assert.equal('corpId' in res.body, false);
  });

  it("reports the other organisation's corpId for its employee", async () => {
    const { location } = await choose(authorizeUrl(run.url), { userid: sampleUserids.otherOrg });
    const res = await userTokens(run.url, location?.searchParams.get('authCode') ?? '');
    assert.equal(res.body.corpId, SANDBOX_OTHER_CORP_ID);
  });

  it('accepts extra scopes and echoes an unusual state exactly', async () => {
    const state = 'a b&c=d/é"<x>';
    const { location } = await choose(authorizeUrl(run.url, { scope: 'openid corpid Contact.User.Read', state }), {
      userid: sampleUserids.liNa,
    });
    assert.equal(location?.searchParams.get('state'), state);
    assert.ok(location?.searchParams.get('authCode'));
  });

  it('escapes request values in the page', async () => {
    const { html } = await loginPage(authorizeUrl(run.url, { state: '"><script>alert(1)</script>' }));
    assert.doesNotMatch(html, /<script>/);
    assert.ok(html.includes('&#34;&#62;&#60;script&#62;'));
  });

  it('deny redirects with error and state', async () => {
    const { status, location } = await choose(authorizeUrl(run.url), { deny: '1' });
    assert.equal(status, 302);
    assert.equal(location?.searchParams.get('error'), 'access_denied');
    assert.equal(location?.searchParams.get('state'), 'st-123');
    assert.equal(location?.searchParams.has('authCode'), false);
  });

  it('the corpId parameter limits the choice to that organisation', async () => {
    const url = authorizeUrl(run.url, { corpId: SANDBOX_OTHER_CORP_ID });
    const { html } = await loginPage(url);
    assert.ok(html.includes(`value="${sampleUserids.otherOrg}"`));
    assert.ok(!html.includes(`value="${sampleUserids.manager}"`));
    const refused = await choose(url, { userid: sampleUserids.manager });
    assert.equal(refused.status, 400);
    assert.equal(refused.location, undefined);
  });

  it('shows an error page, never a redirect, for bad parameters', async () => {
    const cases: Record<string, string>[] = [
      { client_id: 'dingunknown' },
      { redirect_uri: 'https://evil.example/cb' },
      { redirect_uri: `${REDIRECT_URI}/` },
      { response_type: 'token' },
      { scope: 'corpid' },
      { scope: 'openid bad<scope' },
      { prompt: 'none' },
      { exclusiveLogin: 'true' },
    ];
    for (const params of cases) {
      const { res, html } = await loginPage(authorizeUrl(run.url, params));
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.equal(res.headers.get('location'), null);
      assert.match(html, /参数错误/);
    }
    const missing = await loginPage(`${run.url}/oauth2/auth`);
    assert.equal(missing.res.status, 400);
  });

  it('re-validates the posted form and refuses an unknown person', async () => {
    const tampered = await fetch(`${run.url}/oauth2/auth`, {
      method: 'POST',
      body: new URLSearchParams({
        client_id: SANDBOX_APP_KEY,
        redirect_uri: 'https://evil.example/cb',
        response_type: 'code',
        scope: 'openid',
        prompt: 'consent',
        userid: sampleUserids.manager,
      }),
      redirect: 'manual',
    });
    assert.equal(tampered.status, 400);
    assert.equal(tampered.headers.get('location'), null);
    const nobody = await choose(authorizeUrl(run.url), { userid: 'nobody' });
    assert.equal(nobody.status, 400);
  });

  it('codes expire after 5 minutes', async () => {
    const code = run.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager);
    clock.advance(5 * 60 * 1000 + 1);
    const res = await userTokens(run.url, code);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'invalidParameter.authCode.notFound');
  });

  it('a code is only good for the app it was issued to', async () => {
    const other = await startSandbox({
      apps: [
        { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [REDIRECT_URI] },
        { appKey: 'dingsecond', appSecret: 's2', corpId: SANDBOX_CORP_ID, redirectUris: [REDIRECT_URI] },
      ],
    });
    try {
      const code = other.sandbox.issueAuthCode('dingsecond', sampleUserids.manager);
      const res = await userTokens(other.url, code);
      assert.equal(res.body.code, 'invalidParameter.authCode.notFound');
    } finally {
      await other.close();
    }
  });
});

describe('legacy SNS login (connect/qrconnect, sns/getuserinfo_bycode)', () => {
  let run: Running;
  before(async () => {
    run = await startSandbox();
  });
  after(() => run.close());

  const snsUrl = (path: string) =>
    `${run.url}${path}?${new URLSearchParams({ appid: SANDBOX_APP_KEY, response_type: 'code', scope: 'snsapi_login', state: 's1', redirect_uri: REDIRECT_URI })}`;

  async function signedExchange(code: string, timestamp = String(Date.now()), signature = snsSignature(SANDBOX_APP_SECRET, timestamp)) {
    const query = `accessKey=${SANDBOX_APP_KEY}&timestamp=${timestamp}&signature=${encodeURIComponent(signature)}`;
    return postJson(`${run.url}/sns/getuserinfo_bycode?${query}`, { tmp_auth_code: code });
  }

  it('signs with HMAC-SHA256(appSecret, timestamp) in Base64 (reference vector)', () => {
    assert.equal(snsSignature('testsecret', '1700000000000'), '0LLNtEfV7TTFOBp4Iy6rO3fKt0Qda0bNIqUHEWnH1X4=');
  });

  for (const path of ['/connect/qrconnect', '/connect/oauth2/sns_authorize']) {
    it(`${path} redirects back with code, which getuserinfo_bycode redeems once`, async () => {
      const { status, location } = await choose(snsUrl(path), { userid: sampleUserids.liNa });
      assert.equal(status, 302);
      assert.equal(location?.searchParams.has('authCode'), false);
      assert.equal(location?.searchParams.get('state'), 's1');
      const code = location?.searchParams.get('code') ?? '';
      const res = await signedExchange(code);
      assert.equal(res.body.errcode, 0);
      const info = res.body.user_info as Record<string, unknown>;
      assert.equal(info.nick, '李娜');
      assert.equal(info.unionid, run.sandbox.org.people.find((p) => p.userid === sampleUserids.liNa)?.unionId);
      assert.equal(typeof info.main_org_auth_high_level, 'boolean');
      assert.equal((await signedExchange(code)).body.errcode, 40078);
    });
  }

  it('refuses a wrong signature and a stale timestamp', async () => {
    const { location } = await choose(snsUrl('/connect/qrconnect'), { userid: sampleUserids.liNa });
    const code = location?.searchParams.get('code') ?? '';
    assert.equal((await signedExchange(code, String(Date.now()), snsSignature('wrong', String(Date.now())))).body.errcode, 88);
    const stale = String(Date.now() - 10 * 60 * 1000);
    assert.equal((await signedExchange(code, stale)).body.errcode, 88);
    assert.equal((await signedExchange(code)).body.errcode, 0, 'refused attempts do not burn the code');
  });

  it('rejects scope other than snsapi_login / snsapi_auth', async () => {
    const res = await fetch(snsUrl('/connect/qrconnect').replace('snsapi_login', 'openid'));
    assert.equal(res.status, 400);
  });
});
