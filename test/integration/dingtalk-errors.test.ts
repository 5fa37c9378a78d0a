/**
 * Every way a DingTalk sign-in fails, through the whole bridge against the sandbox: the page the
 * person sees (status, which page, the code, a retry link where retrying can help, no stack, no
 * secret) and the log line an operator finds under the page's reference number (code, message,
 * request id, no secret). The sandbox's extra apps lack a permission, an allow-listed IP or
 * contacts scope; the rest is fault injection.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDingTalkSandbox,
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  SANDBOX_CORP_ID,
  sampleUserids,
  type DingTalkSandbox,
  type SandboxApp,
} from '../../src/sandbox/index.js';
import { KNOWN_SECRETS, startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import type { LoginResult } from '../helpers/dingtalk-login.js';
import { leakedSecrets } from '../helpers/leaks.js';
import type { LogLine } from '../helpers/logs.js';
import { hasStackTrace, message, pageFacts, type PageFacts } from '../helpers/pages.js';

const TIMEOUT_MS = 500;

const APPS = {
  /** users/me answers 403 with requiredScopes [Contact.User.Read]. */
  noContactRead: { appKey: 'dingnoreadapp', appSecret: 'noread-app-secret-1', grantedScopes: ['Contact.User.mobile'] },
  /** Only 203.0.113.9 may call: the bridge (127.0.0.1) gets IpNotInWhiteList / 60020. */
  ipLocked: { appKey: 'dingiplockedapp', appSecret: 'iplocked-app-secret-1', allowedIps: ['203.0.113.9'] },
  /** Contacts scope limited to 研发中心 (100): people elsewhere get 60011. */
  rdOnly: { appKey: 'dingrdonlyapp', appSecret: 'rdonly-app-secret-1', contactsScope: [100] },
} satisfies Record<string, Omit<SandboxApp, 'corpId' | 'redirectUris'>>;

const SECRETS = [...KNOWN_SECRETS, ...Object.values(APPS).map((a) => a.appSecret)];

type PageKind = 'notAllowed' | 'askYourAdmin' | 'upstreamFailed' | 'invalidLink';
const TITLES: Record<PageKind, string> = {
  notAllowed: message('zh-CN', 'errors.notAllowed.title'),
  askYourAdmin: message('zh-CN', 'errors.askYourAdmin.title'),
  upstreamFailed: message('zh-CN', 'errors.upstreamFailed.title', { upstream: '钉钉' }),
  invalidLink: message('zh-CN', 'errors.invalidLink.title'),
};
const STATUS: Record<PageKind, number> = { notAllowed: 403, askYourAdmin: 502, upstreamFailed: 502, invalidLink: 400 };

interface Expected {
  kind: PageKind;
  /** The code on the page and in the log line. */
  code?: string;
  /** Strings that may never show up (e.g. the authCode of this attempt). */
  secrets?: string[];
}

/** The page: status, which page, code, retry link only where retrying can help, no stack, no secret. */
function assertPage(login: LoginResult, expected: Expected): PageFacts & { requestId: string } {
  assert.equal(login.redirect, undefined, 'no code reaches the client');
  assert.ok(login.page, 'the login ended on a page');
  assert.equal(login.page.status, STATUS[expected.kind]);
  const facts = pageFacts(login.page.html);
  assert.equal(facts.title, TITLES[expected.kind]);
  if (expected.code !== undefined) assert.equal(facts.code, expected.code);
  if (expected.kind === 'upstreamFailed') assert.match(facts.retryHref ?? '', /^\/interaction\/[\w-]+$/, 'a retry link');
  else assert.equal(facts.retryHref, undefined, 'no retry link where retrying cannot help');
  if (expected.kind !== 'invalidLink') assert.ok(facts.abortAction, 'a way back to the client');
  assert.equal(hasStackTrace(login.page.html), false, 'no stack trace');
  const authCode = login.callbackUrl?.searchParams.get('authCode');
  assert.deepEqual(leakedSecrets(login.page.html, [...SECRETS, ...(authCode ? [authCode] : []), ...(expected.secrets ?? [])]), []);
  assert.ok(facts.requestId, 'a reference number to quote');
  return facts as PageFacts & { requestId: string };
}

/** The bridge's line for the failed request, found by the page's reference number. */
function failureLine(
  logs: LogLine[],
  requestId: string,
  code: string,
): LogLine & { err: { message: string; detail: { params: Record<string, string> } } } {
  const line = logs.find((l) => l.msg === 'upstream sign-in failed' && l.reqId === requestId);
  assert.ok(line, 'a log line under the page’s reference number');
  assert.equal(line.code, code);
  assert.equal(line.upstream, 'dingtalk');
  const err = line.err as { message?: unknown };
  assert.equal(typeof err?.message, 'string');
  return line as ReturnType<typeof failureLine>;
}

/** DingTalk's own answer, as logged by the client: code, message and (v1.0) DingTalk's request id. */
function dingtalkLines(logs: LogLine[], api: string): LogLine[] {
  const lines = logs.filter((l) => l.msg === 'DingTalk call failed' && l.api === api);
  for (const line of lines) {
    assert.equal(typeof line.code, 'string');
    assert.ok(typeof line.message === 'string' && line.message.length > 0, 'DingTalk’s message');
    if (api.startsWith('/v1.0/')) assert.match(String(line.requestId), /^[0-9A-F-]{36}$/, 'DingTalk’s request id');
  }
  return lines;
}

describe('DingTalk failures: the page and the log line', () => {
  let sandbox: DingTalkSandbox;
  let fb: DingTalkBridge;
  const apps: Record<keyof typeof APPS, DingTalkBridge> = {} as Record<keyof typeof APPS, DingTalkBridge>;
  let mark = 0;
  /** Log lines written since the current test began. */
  const fresh = (bridge: DingTalkBridge = fb) => bridge.logs.slice(bridge === fb ? mark : 0);

  before(async () => {
    const extra = (a: Omit<SandboxApp, 'corpId' | 'redirectUris'>): SandboxApp => ({ ...a, corpId: SANDBOX_CORP_ID, redirectUris: [] });
    sandbox = createDingTalkSandbox({
      apps: [
        { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [] },
        ...Object.values(APPS).map(extra),
      ],
    });
    const upstream = { timeoutMs: TIMEOUT_MS };
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', sandbox, dingtalk: upstream });
    await Promise.all(
      (Object.keys(APPS) as (keyof typeof APPS)[]).map(async (k) => {
        apps[k] = await startBridge({
          upstream: 'dingtalk',
          store: 'memory',
          sandbox,
          dingtalk: { ...upstream, clientId: APPS[k].appKey, clientSecret: APPS[k].appSecret },
        });
      }),
    );
  });
  afterEach(() => {
    sandbox.clearFaults();
    mark = fb.logs.length;
  });
  after(async () => {
    await Promise.all([fb, ...Object.values(apps)].filter(Boolean).map((b) => b.close()));
  });

  it('a made-up authCode: upstream-failed page with a retry link, DingTalk’s 400 in the log', async () => {
    const pending = await fb.startLogin('kubesphere');
    const callback = new URL(pending.upstreamUrl!.searchParams.get('redirect_uri')!);
    callback.searchParams.set('authCode', 'not-a-code-dingtalk-issued');
    callback.searchParams.set('state', pending.upstreamUrl!.searchParams.get('state')!);
    const login = await fb.finishLogin(pending, callback);
    const code = 'invalidParameter.authCode.notFound';
    const facts = assertPage(login, { kind: 'upstreamFailed', code });
    failureLine(fresh(), facts.requestId, code);
    const [call] = dingtalkLines(fresh(), '/v1.0/oauth2/userAccessToken');
    assert.equal(call?.status, 400);
    assert.equal(call?.retrying, false, 'a code exchange is never retried');
  });

  it('an authCode already used for another login is refused by DingTalk', async () => {
    const first = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    assert.ok(first.code);
    const spent = first.callbackUrl!.searchParams.get('authCode')!;
    const pending = await fb.startLogin('kubesphere');
    const callback = new URL(pending.upstreamUrl!.searchParams.get('redirect_uri')!);
    callback.searchParams.set('authCode', spent);
    callback.searchParams.set('state', pending.upstreamUrl!.searchParams.get('state')!);
    const login = await fb.finishLogin(pending, callback);
    const facts = assertPage(login, { kind: 'upstreamFailed', code: 'invalidParameter.authCode.notFound', secrets: [spent] });
    failureLine(fresh(), facts.requestId, 'invalidParameter.authCode.notFound');
    assert.deepEqual(leakedSecrets(JSON.stringify(fresh()), [...SECRETS, spent, first.code]), []);
  });

  it('replaying a finished callback URL: invalid-link page, logged as a refused callback', async () => {
    const done = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    assert.ok(done.code);
    // The same browser opens the same callback URL again (back button, reload, a forwarded link).
    const replay = await fb.finishLogin(
      { clientId: 'kubesphere', browser: done.browser, redirectUri: done.redirectUri, state: done.checks.state },
      done.callbackUrl!,
    );
    const facts = assertPage(replay, { kind: 'invalidLink' });
    const line = fresh().find((l) => l.msg.startsWith('upstream callback refused') && l.reqId === facts.requestId);
    assert.ok(line, 'logged under the page’s reference number');
    assert.equal(line.reason, 'unknown');
    const authCode = done.callbackUrl!.searchParams.get('authCode')!;
    assert.deepEqual(leakedSecrets(JSON.stringify(fresh()), [...SECRETS, authCode]), []);
  });

  it('an app without Contact.User.Read: ask-your-admin page, the missing permission in the log', async () => {
    const bridge = apps.noContactRead;
    const login = await bridge.loginAs(sampleUserids.manager, 'kubesphere');
    const code = 'Forbidden.AccessDenied.AccessTokenPermissionDenied';
    const facts = assertPage(login, { kind: 'askYourAdmin', code });
    const line = failureLine(fresh(bridge), facts.requestId, code);
    assert.equal(line.err.detail.params.scopes, 'Contact.User.Read');
    assert.match(line.err.message, /Contact\.User\.Read/);
    const [call] = dingtalkLines(fresh(bridge), '/v1.0/contact/users/me');
    assert.equal(call?.status, 403);
    assert.deepEqual(leakedSecrets(JSON.stringify(fresh(bridge)), SECRETS), []);
  });

  it('a server IP outside the app’s allow-list (v1.0 IpNotInWhiteList): ask-your-admin page, the IP in the log', async () => {
    const bridge = apps.ipLocked;
    const login = await bridge.loginAs(sampleUserids.manager, 'kubesphere');
    const code = 'Forbidden.AccessDenied.IpNotInWhiteList';
    const facts = assertPage(login, { kind: 'askYourAdmin', code });
    const line = failureLine(fresh(bridge), facts.requestId, code);
    assert.equal(line.err.detail.params.ip, '127.0.0.1');
    const [call] = dingtalkLines(fresh(bridge), '/v1.0/oauth2/accessToken');
    assert.equal(call?.status, 403);
    assert.match(String(call?.message), /request ip=127\.0\.0\.1/);
    assert.deepEqual(leakedSecrets(JSON.stringify(fresh(bridge)), SECRETS), []);
  });

  it('60020 from a topapi lookup: ask-your-admin page, the IP in the log', async () => {
    const errmsg =
      '访问ip不在白名单之中，请参考FAQ：https://open.dingtalk.com/document/org-faq/app-faq,request ip=198.51.100.7 appKey(dingsandboxappkey)';
    sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: 60020, errmsg });
    const login = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    const facts = assertPage(login, { kind: 'askYourAdmin', code: '60020' });
    assert.equal(failureLine(fresh(), facts.requestId, '60020').err.detail.params.ip, '198.51.100.7');
    assert.equal(dingtalkLines(fresh(), '/topapi/user/getbyunionid').length, 1);
  });

  it('60011, a person outside the app’s contacts scope: ask-your-admin page; people inside still sign in', async () => {
    const bridge = apps.rdOnly;
    const inside = await bridge.loginAs(sampleUserids.manager, 'kubesphere');
    assert.ok(inside.code, 'a 研发中心 member is in scope');
    const login = await bridge.loginAs(sampleUserids.marketingHead, 'kubesphere');
    const facts = assertPage(login, { kind: 'askYourAdmin', code: '60011' });
    failureLine(fresh(bridge), facts.requestId, '60011');
    const calls = dingtalkLines(fresh(bridge), '/topapi/v2/user/get');
    assert.equal(calls.at(-1)?.code, '60011');
  });

  it('60121 from user/get (left between the two lookups): not-allowed page', async () => {
    sandbox.setFault({ api: '/topapi/v2/user/get', kind: 'errcode', errcode: 60121 });
    const login = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    const facts = assertPage(login, { kind: 'notAllowed', code: '60121' });
    failureLine(fresh(), facts.requestId, '60121');
    assert.equal(dingtalkLines(fresh(), '/topapi/v2/user/get')[0]?.message, '找不到该用户');
  });

  it('rate limited (90018): upstream-failed page with a retry link, and no second call', async () => {
    sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: 90018 });
    const login = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    const facts = assertPage(login, { kind: 'upstreamFailed', code: '90018' });
    failureLine(fresh(), facts.requestId, '90018');
    const calls = dingtalkLines(fresh(), '/topapi/user/getbyunionid');
    assert.deepEqual(
      calls.map((c) => [c.code, c.retrying]),
      [['90018', false]],
      'throttling is not retried',
    );
  });

  it('busy (-1) twice: retried once, then the upstream-failed page; its retry link signs the person in', async () => {
    sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: -1, times: 2 });
    const login = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    const facts = assertPage(login, { kind: 'upstreamFailed', code: '-1' });
    failureLine(fresh(), facts.requestId, '-1');
    const calls = dingtalkLines(fresh(), '/topapi/user/getbyunionid');
    assert.deepEqual(
      calls.map((c) => [c.attempt, c.retrying]),
      [
        [1, true],
        [2, false],
      ],
    );
    const again = await fb.retry(login);
    assert.ok(again.upstreamUrl, 'the retry link starts a new DingTalk leg');
    const retried = await fb.finishLogin(again, await fb.chooseAtSandbox(again, sampleUserids.liNa));
    assert.ok(retried.code, 'the same authorization request completes');
    assert.equal(retried.state, 'dingtalk');
  });

  it('busy (-1) once: the retry succeeds and the person signs in', async () => {
    sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: -1, times: 1 });
    const login = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    assert.ok(login.code);
    assert.deepEqual(
      dingtalkLines(fresh(), '/topapi/user/getbyunionid').map((c) => c.retrying),
      [true],
    );
  });

  it('a DingTalk slower than timeoutMs: the request answers with the upstream-failed page instead of hanging', async () => {
    sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'delay', ms: 10 * TIMEOUT_MS, times: 2 });
    const started = Date.now();
    const login = await fb.loginAs(sampleUserids.liNa, 'kubesphere');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5 * TIMEOUT_MS, `answered after ${elapsed} ms`);
    const facts = assertPage(login, { kind: 'upstreamFailed', code: 'timeout' });
    failureLine(fresh(), facts.requestId, 'timeout');
    const calls = dingtalkLines(fresh(), '/topapi/user/getbyunionid');
    assert.deepEqual(
      calls.map((c) => c.code),
      ['timeout', 'timeout'],
    );
    assert.match(String(calls[0]?.message), new RegExp(`${TIMEOUT_MS} ms`));
  });

  it('never logs a secret', () => {
    for (const bridge of [fb, ...Object.values(apps)]) {
      assert.ok(bridge.logs.length > 0);
      assert.deepEqual(leakedSecrets(JSON.stringify(bridge.logs), SECRETS), []);
    }
  });
});
