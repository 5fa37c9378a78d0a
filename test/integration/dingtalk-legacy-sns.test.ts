/**
 * The legacy QR-code login (`mode: legacy-sns`) through the whole bridge against the sandbox's
 * connect/qrconnect page and signed sns/getuserinfo_bycode: the person lands with the same `sub`
 * as the current login gives them (the unionId, checked for membership with the internal app), a
 * wrong legacyAppSecret gets the explained "ask your administrator" page, and the signature
 * matches the published vector.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subjectFor } from '../../src/accounts/subject.js';
import {
  createDingTalkSandbox,
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  SANDBOX_CORP_ID,
  sampleOrganisation,
  sampleUserids,
  type DingTalkSandbox,
} from '../../src/sandbox/index.js';
import { snsSignature } from '../../src/upstreams/dingtalk/index.js';
import { KNOWN_SECRETS, startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import type { LoginResult, PendingLogin } from '../helpers/dingtalk-login.js';
import { leakedSecrets } from '../helpers/leaks.js';
import { hasStackTrace, pageFacts } from '../helpers/pages.js';

const LEGACY_APP_KEY = 'dingsandboxlegacyqr';
const LEGACY_APP_SECRET = 'sandbox-legacy-secret';

function legacySandbox(): DingTalkSandbox {
  return createDingTalkSandbox({
    apps: [
      { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [] },
      { appKey: LEGACY_APP_KEY, appSecret: LEGACY_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [] },
    ],
  });
}

const legacyUpstream = (secret: string) => (sandboxUrl: string) => ({
  mode: 'legacy-sns',
  legacyAppId: LEGACY_APP_KEY,
  legacyAppSecret: secret,
  endpoints: {
    authorize: `${sandboxUrl}/oauth2/auth`,
    api: sandboxUrl,
    oapi: sandboxUrl,
    legacyAuthorize: `${sandboxUrl}/connect/qrconnect`,
  },
});

/** /auth → the sandbox's QR page → the person's choice → the bridge's callback → the client or a page. */
async function legacyLogin(fb: DingTalkBridge, userid: string): Promise<{ login: LoginResult; qrPage: URL }> {
  const started = await fb.startLogin('kubesphere');
  // The driver stops at the current login's page; the legacy one ends the walk on the QR page itself.
  const page = started.done?.page;
  assert.ok(page, 'the login stopped on a page');
  const qrPage = new URL(page.url);
  assert.equal(qrPage.pathname, '/connect/qrconnect', page.html.slice(0, 300));
  const pending: PendingLogin = { ...started, upstreamUrl: qrPage };
  delete pending.done;
  const callback = await fb.chooseAtSandbox(pending, userid);
  return { login: await fb.finishLogin(pending, callback), qrPage };
}

describe('DingTalk legacy QR login (mode: legacy-sns)', () => {
  it('signs with Base64(HMAC-SHA256(appSecret, timestamp)), URL-encoded once in the query', () => {
    const signature = snsSignature('testsecret', '1700000000000');
    assert.equal(signature, '0LLNtEfV7TTFOBp4Iy6rO3fKt0Qda0bNIqUHEWnH1X4=');
    assert.equal(new URLSearchParams({ signature }).toString(), 'signature=0LLNtEfV7TTFOBp4Iy6rO3fKt0Qda0bNIqUHEWnH1X4%3D');
  });

  describe('against the sandbox', () => {
    let fb: DingTalkBridge;
    before(async () => {
      fb = await startBridge({
        upstream: 'dingtalk',
        store: 'memory',
        sandbox: legacySandbox(),
        dingtalk: legacyUpstream(LEGACY_APP_SECRET),
      });
      fb.sandbox.addRedirectUri(LEGACY_APP_KEY, `${fb.issuer}/upstream/dingtalk/callback`);
    });
    after(() => fb?.close());

    it('sends the person to connect/qrconnect with the login app’s appid and signs them in by their unionId', async () => {
      fb.sandbox.resetStats();
      const { login, qrPage } = await legacyLogin(fb, sampleUserids.manager);
      assert.equal(qrPage.searchParams.get('appid'), LEGACY_APP_KEY);
      assert.equal(qrPage.searchParams.get('response_type'), 'code');
      assert.equal(qrPage.searchParams.get('scope'), 'snsapi_login');
      assert.equal(qrPage.searchParams.get('redirect_uri'), `${fb.issuer}/upstream/dingtalk/callback`);
      assert.ok(qrPage.searchParams.get('state'));
      assert.ok(login.callbackUrl?.searchParams.get('code'), 'the legacy callback carries `code`');
      assert.ok(login.redirect, `the login ended on ${login.page?.status} ${login.page?.url}`);
      const claims = (await fb.tokens(login)).claims()!;
      const person = sampleOrganisation.people.find((p) => p.userid === sampleUserids.manager)!;
      // The same `sub` as the current login: the unionId in the organisation's link domain.
      assert.equal(claims.sub, subjectFor(`dingtalk:${SANDBOX_CORP_ID}`, person.unionId));
      assert.equal(fb.sandbox.stats.calls['/sns/getuserinfo_bycode'], 1);
      assert.equal(fb.sandbox.stats.calls['/topapi/user/getbyunionid'], 1, 'membership checked with the internal app');
    });

    for (const errcode of [853001, 853002, 853003, 853004]) {
      it(`reads DingTalk's signature error ${errcode} as the legacy app's credentials or the clock: the ask-your-administrator page`, async () => {
        fb.sandbox.setFault({ api: '/sns/getuserinfo_bycode', kind: 'errcode', errcode, errmsg: '参数错误', times: 1 });
        const { login } = await legacyLogin(fb, sampleUserids.manager);
        assert.equal(login.page?.status, 502);
        assert.match(login.page.html, /legacyAppSecret/);
        assert.equal(pageFacts(login.page.html).code, String(errcode));
      });
    }

    it('refuses a person who left, as the current login does', async () => {
      const { login } = await legacyLogin(fb, sampleUserids.departed);
      assert.equal(login.page?.status, 403);
      assert.equal(login.redirect, undefined);
    });
  });

  describe('with a wrong legacyAppSecret', () => {
    let fb: DingTalkBridge;
    before(async () => {
      fb = await startBridge({
        upstream: 'dingtalk',
        store: 'memory',
        sandbox: legacySandbox(),
        dingtalk: legacyUpstream('not-the-secret'),
      });
      fb.sandbox.addRedirectUri(LEGACY_APP_KEY, `${fb.issuer}/upstream/dingtalk/callback`);
    });
    after(() => fb?.close());

    it('shows the "ask your administrator" page naming the legacy app’s credentials, with DingTalk’s code', async () => {
      const { login } = await legacyLogin(fb, sampleUserids.manager);
      const page = login.page;
      assert.ok(page, 'the login ended on a page');
      assert.equal(page.status, 502);
      assert.ok(!hasStackTrace(page.html));
      assert.match(page.html, /legacyAppSecret/);
      assert.equal(pageFacts(page.html).code, '88');
      assert.deepEqual(leakedSecrets(page.html, [...KNOWN_SECRETS, LEGACY_APP_SECRET, 'not-the-secret']), []);
      const line = fb.logs.find((l) => l.msg === 'upstream sign-in failed');
      assert.equal(line?.code, '88');
    });
  });
});
