/**
 * The whole bridge (production wiring) against the DingTalk sandbox on its own port, over real
 * HTTP, with openid-client as the relying party: claims, refusals, offboarding on refresh and by
 * the sweep, DingTalk outages during refresh, the shared app token across replicas, and the
 * browser binding of the upstream leg. Runs on the memory store and on Redis.
 * Error pages and their log lines: dingtalk-errors.test.ts.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { SANDBOX_CORP_ID, sampleUserids } from '../../src/sandbox/index.js';
import { Browser } from '../helpers/http-browser.js';
import { KNOWN_SECRETS, startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { KUBECTL_GROUPS_PREFIX, KUBESPHERE_STATE, type LoginResult } from '../helpers/dingtalk-login.js';
import { leakedSecrets } from '../helpers/leaks.js';
import { hasStackTrace, message, pageFacts } from '../helpers/pages.js';

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const E164 = /^\+[1-9]\d{6,14}$/;
const RESERVED = ['admin', 'root', 'system', 'kubesphere'];
const DINGTALK_CLAIMS = ['dingtalk_userid', 'dingtalk_unionid', 'dingtalk_corp_id', 'job_number', 'title'];

function assertUsername(username: unknown): asserts username is string {
  assert.equal(typeof username, 'string');
  assert.match(username as string, DNS_1123);
  assert.ok((username as string).length <= 32, `${String(username)} is longer than 32`);
  assert.ok(!RESERVED.includes(username as string), `${String(username)} is reserved`);
}

/** The OAuth error a refresh ends in, or 'ok'. */
async function refreshOutcome(
  rp: client.Configuration,
  refreshToken: string,
): Promise<{ status?: number; error: string; tokens?: client.TokenEndpointResponse }> {
  try {
    return { error: 'ok', tokens: await client.refreshTokenGrant(rp, refreshToken) };
  } catch (err) {
    if (err instanceof client.ResponseBodyError) return { status: err.status, error: err.error };
    // openid-client reads OAuth error bodies of 4xx only; a 503 arrives as the raw response.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Response) return { status: cause.status, error: String(((await cause.json()) as { error?: unknown }).error) };
    throw err;
  }
}

for (const storeKind of ['memory', 'redis'] as const) {
  describe(`DingTalk sign-in through the whole bridge (${storeKind} store)`, () => {
    let fb: DingTalkBridge;
    /** Codes and tokens seen during the suite: none may appear in a log line. */
    const seen: string[] = [];

    const remember = (login: LoginResult) => {
      const authCode = login.callbackUrl?.searchParams.get('authCode');
      if (authCode) seen.push(authCode);
      if (login.code) seen.push(login.code);
    };
    const signIn = async (userid: string, clientId: string, options: Parameters<DingTalkBridge['loginAs']>[2] = {}) => {
      const login = await fb.loginAs(userid, clientId, options);
      remember(login);
      assert.ok(login.redirect, `expected a code, got ${login.page?.status} ${login.page ? pageFacts(login.page.html).title : ''}`);
      const tokens = await fb.tokens(login);
      for (const t of [tokens.access_token, tokens.id_token, tokens.refresh_token]) if (t) seen.push(t);
      return { login, tokens, claims: tokens.claims()! };
    };

    /** Both clients signed in for `userid` in one browser (the second silently), with refresh tokens. */
    async function bothClients(userid: string) {
      const ks = await signIn(userid, 'kubesphere', { scope: 'openid profile email' });
      const ctl = await signIn(userid, 'kubectl', { browser: ks.login.browser, scope: 'openid profile groups offline_access' });
      assert.equal(ctl.login.upstreamLeg, false, 'the second client reuses the browser session');
      assert.ok(ks.tokens.refresh_token && ctl.tokens.refresh_token, 'both clients get refresh tokens');
      return { browser: ks.login.browser, sub: ks.claims.sub, ks: ks.tokens.refresh_token, ctl: ctl.tokens.refresh_token };
    }

    /** After offboarding: no refresh works, no grant is left, and the browser session no longer signs in silently. */
    async function assertOffboarded(userid: string, p: Awaited<ReturnType<typeof bothClients>>) {
      for (const [clientId, token] of [
        ['kubesphere', p.ks],
        ['kubectl', p.ctl],
      ] as const) {
        const outcome = await refreshOutcome(await fb.rp(clientId), token);
        assert.equal(outcome.error, 'invalid_grant', `${clientId} refresh after leaving`);
      }
      assert.ok(!(await fb.bridge.store.accountsWithGrants()).includes(p.sub), 'no grant of the account is left');
      const again = await fb.startLogin('kubesphere', { browser: p.browser });
      assert.ok(again.upstreamUrl, 'the old browser session no longer signs in silently: DingTalk is asked again');
      const refused = await fb.finishLogin(again, await fb.chooseAtSandbox(again, userid));
      assert.equal(refused.page?.status, 403);
      assert.equal(pageFacts(refused.page.html).title, message('zh-CN', 'errors.notAllowed.title'));
    }

    before(async () => {
      fb = await startBridge({ upstream: 'dingtalk', store: storeKind });
    });
    afterEach(() => fb.sandbox.clearFaults());
    after(() => fb?.close());

    it('gives a member a verified RS256 ID token with KubeSphere’s constant state and the documented claims', async () => {
      const { login, tokens, claims } = await signIn(sampleUserids.wangFangPlatform, 'kubesphere', {
        scope: 'openid profile email phone groups',
      });
      assert.equal(login.state, KUBESPHERE_STATE);
      assert.equal(login.redirect!.searchParams.get('iss'), fb.issuer);
      assert.equal(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).alg, 'RS256');
      assert.equal(claims.iss, fb.issuer);
      assert.equal(claims.aud, 'kubesphere');
      assert.ok(claims.sub.length <= 63 && LABEL_VALUE.test(claims.sub), 'sub is a Kubernetes label value');
      assertUsername(claims.preferred_username);
      assert.equal(claims.name, '王芳');
      assert.equal(claims.email, 'fang.wang@sandbox.example.com');
      assert.equal(claims.email_verified, true);
      assert.equal(claims.phone_number, '+8613800000002');
      assert.match(String(claims.phone_number), E164);
      // In the dingtalk upstream's namespace (its default groupsPrefix), for every client.
      assert.deepEqual(claims.groups, ['dingtalk:研发中心/平台组', 'dingtalk:研发中心']);
      for (const name of DINGTALK_CLAIMS) assert.equal(claims[name], undefined, `${name} needs the dingtalk scope`);
    });

    it('prefixes groups for kubectl (PKCE, loopback on any port) and releases dingtalk_* only under the dingtalk scope', async () => {
      const { login, claims } = await signIn(sampleUserids.twoDepartments, 'kubectl', {
        scope: 'openid profile groups dingtalk',
        redirectUri: 'http://localhost:43117',
      });
      assert.equal(login.redirect!.origin, 'http://localhost:43117');
      assert.deepEqual(
        new Set(claims.groups as string[]),
        new Set(['研发中心/平台组', '研发中心', '产品部'].map((g) => KUBECTL_GROUPS_PREFIX + g)),
      );
      assert.equal(claims.dingtalk_userid, sampleUserids.twoDepartments);
      assert.equal(claims.dingtalk_corp_id, SANDBOX_CORP_ID);
      assert.equal(claims.job_number, 'SX0210');
      assert.equal(claims.title, '技术产品经理');
      assert.equal(typeof claims.dingtalk_unionid, 'string');
      assert.equal(claims.email, undefined, 'no email claim without the email scope');
      const plain = await signIn(sampleUserids.twoDepartments, 'kubectl', { scope: 'openid profile', browser: login.browser });
      assert.equal(plain.login.upstreamLeg, false);
      assert.equal(plain.claims.sub, claims.sub);
      for (const name of DINGTALK_CLAIMS) assert.equal(plain.claims[name], undefined, `${name} without the dingtalk scope`);
    });

    it('gives a member without an org mailbox no email claim', async () => {
      const { claims } = await signIn(sampleUserids.noEmail, 'kubesphere', { scope: 'openid profile email' });
      assert.equal(claims.email, undefined);
      assert.equal(claims.email_verified, undefined);
      assertUsername(claims.preferred_username);
    });

    it('gives the two 王芳 distinct usernames that stay the same on every login', async () => {
      const names = new Map<string, Set<string>>();
      const subs = new Map<string, Set<string>>();
      for (const userid of [sampleUserids.wangFangPlatform, sampleUserids.wangFangMarketing]) {
        for (let i = 0; i < 2; i += 1) {
          const { login, claims } = await signIn(userid, 'kubesphere', { scope: 'openid profile' });
          assert.equal(login.upstreamLeg, true, 'a fresh browser signs in at DingTalk');
          assert.equal(claims.name, '王芳');
          assertUsername(claims.preferred_username);
          names.set(userid, (names.get(userid) ?? new Set()).add(claims.preferred_username));
          subs.set(userid, (subs.get(userid) ?? new Set()).add(claims.sub));
        }
      }
      const [a, b] = [...names.values()];
      assert.equal(a!.size, 1, 'stable username');
      assert.equal(b!.size, 1, 'stable username');
      assert.notEqual([...a!][0], [...b!][0]);
      const [s1, s2] = [...subs.values()];
      assert.equal(s1!.size, 1);
      assert.notEqual([...s1!][0], [...s2!][0]);
    });

    it('does not give the admin@ mailbox owner the reserved name admin', async () => {
      const { claims } = await signIn(sampleUserids.adminMailbox, 'kubesphere', { scope: 'openid profile email' });
      assert.equal(claims.email, 'admin@sandbox.example.com');
      assert.notEqual(claims.preferred_username, 'admin');
      assertUsername(claims.preferred_username);
    });

    const refusals = [
      { who: 'a person who left', userid: sampleUserids.departed, code: '60121' },
      { who: 'an external contact', userid: sampleUserids.externalContact, code: 'contact_type=1' },
      // DingTalk's page offers only the configured organisation; this person chose another one.
      { who: 'a person of another organisation', userid: sampleUserids.otherOrg, code: 'wrong_org', issuedCode: {} },
    ];
    for (const r of refusals) {
      it(`refuses ${r.who} with the not-allowed page`, async () => {
        const login = await fb.loginAs(r.userid, 'kubesphere', r.issuedCode ? { issuedCode: r.issuedCode } : {});
        remember(login);
        assert.equal(login.redirect, undefined, 'no code reaches the client');
        assert.equal(login.page?.status, 403);
        const facts = pageFacts(login.page.html);
        assert.equal(facts.title, message('zh-CN', 'errors.notAllowed.title'));
        assert.equal(facts.code, r.code, 'the page names the cause');
        assert.equal(facts.retryHref, undefined, 'retrying cannot help');
        assert.ok(facts.abortAction, 'a way back to the client');
        assert.equal(hasStackTrace(login.page.html), false);
        const authCode = login.callbackUrl!.searchParams.get('authCode')!;
        assert.deepEqual(leakedSecrets(login.page.html, [...KNOWN_SECRETS, authCode]), []);
        assert.doesNotMatch(login.page.html, /access_?token|refresh_?token|eyJ[\w-]{10,}\./i);
        const line = fb.logs.find((l) => l.msg === 'upstream sign-in failed' && l.reqId === facts.requestId);
        assert.ok(line, 'the log line carries the request id shown on the page');
        assert.equal(line.code, r.code);
      });
    }

    it('refuses the refresh of a person who left, and ends their other grants and browser sessions', async () => {
      const p = await bothClients(sampleUserids.manager);
      const fine = await refreshOutcome(await fb.rp('kubesphere'), p.ks);
      assert.equal(fine.error, 'ok', 'a member refreshes');
      p.ks = fine.tokens!.refresh_token ?? p.ks;
      fb.sandbox.removeMember(sampleUserids.manager);
      const outcome = await refreshOutcome(await fb.rp('kubesphere'), p.ks);
      assert.equal(outcome.error, 'invalid_grant');
      await assertOffboarded(sampleUserids.manager, p);
    });

    it('ends every grant and session of a person who left on the sweep, without any refresh', async () => {
      const p = await bothClients(sampleUserids.southSales);
      fb.sandbox.removeMember(sampleUserids.southSales);
      const result = await fb.bridge.membership.sweep();
      assert.equal(result.ran, true);
      assert.ok(result.revoked >= 1, `sweep revoked ${result.revoked}`);
      assert.ok(!(await fb.bridge.store.accountsWithGrants()).includes(p.sub), 'the sweep removed the grants');
      await assertOffboarded(sampleUserids.southSales, p);
    });

    it('answers 503 temporarily_unavailable while DingTalk is down and keeps the refresh token working', async () => {
      const { tokens } = await signIn(sampleUserids.marketingHead, 'kubectl', { scope: 'openid profile groups offline_access' });
      const rp = await fb.rp('kubectl');
      fb.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'http', status: 503, body: { errcode: -1, errmsg: '系统繁忙' } });
      const down = await refreshOutcome(rp, tokens.refresh_token!);
      assert.equal(down.status, 503);
      assert.equal(down.error, 'temporarily_unavailable');
      fb.sandbox.clearFaults();
      const back = await refreshOutcome(rp, tokens.refresh_token!);
      assert.equal(back.error, 'ok', 'the same refresh token works once DingTalk answers');
      assert.ok(back.tokens?.id_token);
      seen.push(back.tokens.refresh_token!, back.tokens.access_token);
    });

    it('does not let a callback finished in another browser complete this browser’s login', async () => {
      const pending = await fb.startLogin('kubesphere');
      const callback = await fb.chooseAtSandbox(pending, sampleUserids.liNa);
      seen.push(callback.searchParams.get('authCode')!);
      const stranger = new Browser();
      const hijack = await fb.finishLogin(pending, callback, stranger);
      assert.equal(hijack.redirect, undefined);
      assert.equal(hijack.page?.status, 400);
      assert.equal(pageFacts(hijack.page.html).title, message('zh-CN', 'errors.invalidLink.title'));
      const strangerNext = await fb.startLogin('kubesphere', { browser: stranger });
      assert.ok(strangerNext.upstreamUrl, 'the other browser got no session');
      const own = await fb.finishLogin(pending, callback);
      remember(own);
      assert.ok(own.code, 'the browser that started the leg still completes it');
      assert.equal(own.state, KUBESPHERE_STATE);
      assert.equal((await fb.tokens(own)).claims()!.name, '李娜');
    });

    it('never logs a secret, a code or a token', async () => {
      // A login of its own, so the check has material even when this test runs alone; the lines
      // and codes of every test before it in this bridge are checked too.
      await signIn(sampleUserids.liNa, 'kubectl', { scope: 'openid profile offline_access' });
      const text = JSON.stringify(fb.logs);
      assert.ok(fb.logs.length > 0);
      assert.deepEqual(leakedSecrets(text, [...KNOWN_SECRETS, ...seen]), []);
    });
  });
}

describe('two replicas sharing one Redis prefix', () => {
  let fb: DingTalkBridge;
  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'redis', replicas: 2 });
  });
  after(() => fb?.close());

  it('fetch the DingTalk app token once for many concurrent logins', async () => {
    const people = [
      sampleUserids.manager,
      sampleUserids.wangFangPlatform,
      sampleUserids.wangFangMarketing,
      sampleUserids.liNa,
      sampleUserids.twoDepartments,
      sampleUserids.southSales,
    ];
    const logins = await Promise.all(people.map((userid) => fb.loginAs(userid, 'kubesphere', { scope: 'openid profile' })));
    for (const login of logins) assert.ok(login.code, `login answered ${login.page?.status}`);
    const names = await Promise.all(logins.map(async (l) => (await fb.tokens(l)).claims()!.preferred_username));
    assert.equal(new Set(names).size, people.length, 'usernames stay unique across replicas');
    assert.ok(
      fb.served.every((n) => n > 0),
      `both replicas served requests: ${fb.served.join(', ')}`,
    );
    const calls = fb.sandbox.stats.calls;
    assert.equal((calls['/v1.0/oauth2/accessToken'] ?? 0) + (calls['/gettoken'] ?? 0), 1);
    assert.ok((calls['/topapi/user/getbyunionid'] ?? 0) >= people.length);
  });
});
