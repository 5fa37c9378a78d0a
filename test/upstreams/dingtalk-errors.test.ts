/**
 * How DingTalk failures reach people and operators: each an UpstreamError whose reason picks the
 * page and whose text names the cause and the fix; each logged with DingTalk's code, message and
 * request id; idempotent lookups retried once, the code exchange never; nothing hangs.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { sampleUserids } from '../../src/sandbox/index.js';
import { UpstreamError } from '../../src/upstreams/types.js';
import { APPS, startBench, type Bench, type Mounted, type Outcome } from './dingtalk-harness.js';

function upstreamErrorOf(outcome: Outcome): UpstreamError {
  assert.ok(outcome.err instanceof UpstreamError, `expected an UpstreamError, got ${inspect(outcome.err ?? 'an identity')}`);
  return outcome.err;
}

describe('dingtalk upstream: errors', () => {
  let bench: Bench;
  let dt: Mounted;
  const calls = (path: string) => bench.sandbox.stats.calls[path] ?? 0;
  before(async () => {
    bench = await startBench();
    dt = bench.add();
  });
  afterEach(() => bench.sandbox.clearFaults());
  after(() => bench.close());

  it('403 on users/me: misconfigured, naming the missing scope, logged with code and request id', async () => {
    const app = bench.add({ clientId: APPS.noContactRead.appKey, clientSecret: APPS.noContactRead.appSecret });
    const err = upstreamErrorOf(await app.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'misconfigured');
    assert.equal(err.detail.code, 'Forbidden.AccessDenied.AccessTokenPermissionDenied');
    assert.equal(err.detail.params?.scopes, 'Contact.User.Read');
    assert.match(err.detail.text!.en!, /Contact\.User\.Read/);
    assert.match(err.detail.text!['zh-CN']!, /Contact\.User\.Read.*权限管理/);
    const line = bench.logs.find((l) => l.obj.code === 'Forbidden.AccessDenied.AccessTokenPermissionDenied');
    assert.ok(line, 'the failure is logged');
    assert.equal(line.obj.api, '/v1.0/contact/users/me');
    assert.match(String(line.obj.requestId), /^[0-9A-F-]{36}$/);
    assert.match(String(line.obj.message), /没有调用该接口的权限/);
  });

  it('60020: misconfigured, showing the IP DingTalk saw and where to add it', async () => {
    const app = bench.add({ clientId: APPS.ipLocked.appKey, clientSecret: APPS.ipLocked.appSecret });
    const err = upstreamErrorOf(await app.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'misconfigured');
    assert.equal(err.detail.params?.ip, '127.0.0.1');
    assert.match(err.detail.text!['zh-CN']!, /127\.0\.0\.1.*服务器出口IP/);
    assert.match(err.detail.text!.en!, /add 127\.0\.0\.1 to the app's 服务器出口IP/);
  });

  it('60020 from a topapi call reads the IP from errmsg too', async () => {
    identity(await dt.signIn(sampleUserids.manager));
    bench.sandbox.setFault({
      api: '/topapi/user/getbyunionid',
      kind: 'errcode',
      errcode: 60020,
      errmsg:
        '访问ip不在白名单之中，请参考FAQ：https://open.dingtalk.com/document/org-faq/app-faq,request ip=198.51.100.7 appKey(dingsandboxappkey)',
    });
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'misconfigured');
    assert.equal(err.detail.code, '60020');
    assert.equal(err.detail.params?.ip, '198.51.100.7');
  });

  it('60011: misconfigured, saying to widen the contacts scope', async () => {
    const app = bench.add({ clientId: APPS.rdOnly.appKey, clientSecret: APPS.rdOnly.appSecret });
    identity(await app.signIn(sampleUserids.wangFangPlatform));
    const err = upstreamErrorOf(await app.signIn(sampleUserids.noEmail));
    assert.equal(err.reason, 'misconfigured');
    assert.equal(err.detail.code, '60011');
    assert.match(err.detail.text!['zh-CN']!, /通讯录权限范围/);
    assert.match(err.detail.text!.en!, /widen 通讯录权限范围/);
  });

  it('60121 on getbyunionid: not_allowed', async () => {
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: 60121, times: 1 });
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'not_allowed');
    assert.equal(err.detail.code, '60121');
  });

  it("an errcode it has no words for: the page names it with DingTalk's message", async () => {
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: 12345, errmsg: '未知错误', times: 1 });
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
    assert.equal(err.detail.code, '12345');
    assert.match(err.detail.text!.en!, /^DingTalk answered error 12345: 未知错误\./);
    assert.match(err.detail.text!['zh-CN']!, /^钉钉返回错误 12345：未知错误/);
  });

  for (const errcode of [90018, 90019, 90002]) {
    it(`rate limit ${errcode}: unavailable, not retried`, async () => {
      bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode });
      const before = calls('/topapi/user/getbyunionid');
      const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
      assert.equal(err.reason, 'unavailable');
      assert.equal(err.detail.code, String(errcode));
      assert.match(err.detail.text!.en!, /Try again in a minute/);
      assert.equal(calls('/topapi/user/getbyunionid'), before + 1);
    });
  }

  it('rate limit on a v1.0 path and the anti-crawl block: unavailable', async () => {
    bench.sandbox.setFault({ api: '/v1.0/contact/users/me', kind: 'errcode', errcode: 90018, times: 1 });
    assert.equal(upstreamErrorOf(await dt.signIn(sampleUserids.manager)).reason, 'unavailable');
    bench.sandbox.setFault({
      api: '/topapi/v2/user/get',
      kind: 'http',
      status: 200,
      body: { status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid: 'x' },
    });
    const blocked = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
    assert.equal(blocked.reason, 'unavailable');
    assert.equal(blocked.detail.code, 'anti_crawl');
  });

  it('-1 (busy) is retried once: one failure is absorbed, two make it unavailable', async () => {
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: -1, times: 1 });
    let before = calls('/topapi/user/getbyunionid');
    identity(await dt.signIn(sampleUserids.manager));
    assert.equal(calls('/topapi/user/getbyunionid'), before + 2);

    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: -1, times: 2 });
    before = calls('/topapi/user/getbyunionid');
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'unavailable');
    assert.equal(err.detail.code, '-1');
    assert.equal(calls('/topapi/user/getbyunionid'), before + 2);
  });

  it('a slow DingTalk times out as unavailable, without hanging; the code exchange is never retried', async () => {
    const quick = bench.add({ timeoutMs: 150 });
    // The delay dwarfs the timeout, so "without hanging" is a margin, not a race, on a loaded machine.
    bench.sandbox.setFault({ api: '/v1.0/oauth2/userAccessToken', kind: 'delay', ms: 10_000, times: 1 });
    let before = calls('/v1.0/oauth2/userAccessToken');
    let started = Date.now();
    let err = upstreamErrorOf(await quick.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'unavailable');
    assert.equal(err.detail.code, 'timeout');
    assert.match(err.detail.text!.en!, /150 ms/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(calls('/v1.0/oauth2/userAccessToken'), before + 1);

    bench.sandbox.setFault({ api: '/topapi/v2/user/get', kind: 'delay', ms: 10_000 });
    before = calls('/topapi/v2/user/get');
    started = Date.now();
    err = upstreamErrorOf(await quick.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'unavailable');
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(calls('/topapi/v2/user/get'), before + 2, 'an idempotent lookup is sent once more');
  });

  it('a refused app secret is misconfigured', async () => {
    const app = bench.add({ clientSecret: 'not-the-secret' });
    const err = upstreamErrorOf(await app.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'misconfigured');
    assert.match(err.detail.text!.en!, /clientId and clientSecret/);
  });

  it('a refused app secret at the app token endpoint is misconfigured', async () => {
    const app = bench.add({ clientSecret: 'not-the-secret' });
    const err = await app.upstream.recheck!({
      upstream: 'dingtalk',
      subject: 'x',
      linkDomain: 'd',
      linkKey: 'x',
      usernameHints: [],
      groups: [],
      extra: {},
      connectorData: JSON.stringify({ unionId: 'sbxZhangWei4220Un1onIdiEiE' }),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof UpstreamError, String(err));
    assert.equal(err.reason, 'misconfigured');
    assert.equal(err.detail.params?.cause, 'bad_app_credentials');
  });

  it('40014 on a lookup fetches the app token again once', async () => {
    identity(await dt.signIn(sampleUserids.manager));
    const tokens = calls('/v1.0/oauth2/accessToken');
    const lookups = calls('/topapi/v2/user/get');
    bench.sandbox.setFault({ api: '/topapi/v2/user/get', kind: 'errcode', errcode: 40014, times: 1 });
    identity(await dt.signIn(sampleUserids.manager));
    assert.equal(calls('/v1.0/oauth2/accessToken'), tokens + 1);
    assert.equal(calls('/topapi/v2/user/get'), lookups + 2);

    bench.sandbox.setFault({ api: '/topapi/v2/user/get', kind: 'errcode', errcode: 40014, times: 2 });
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager));
    assert.equal(err.detail.code, '40014');
    assert.equal(calls('/v1.0/oauth2/accessToken'), tokens + 2, 'only once more per lookup');
  });

  it('an unknown API path is misconfigured', async () => {
    const app = bench.add({
      endpoints: { authorize: `${bench.sandboxUrl}/oauth2/auth`, api: `${bench.sandboxUrl}/nowhere`, oapi: bench.sandboxUrl },
    });
    const err = upstreamErrorOf(await app.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'misconfigured');
    assert.equal(err.detail.code, 'InvalidAction.NotFound');
  });

  it('an unreachable DingTalk is unavailable', async () => {
    const app = bench.add({
      endpoints: { authorize: `${bench.sandboxUrl}/oauth2/auth`, api: 'http://127.0.0.1:9', oapi: bench.sandboxUrl },
    });
    const err = upstreamErrorOf(await app.signIn(sampleUserids.manager));
    assert.equal(err.reason, 'unavailable');
    assert.equal(err.detail.code, 'unreachable');
  });

  it('no log line carries a secret, a token or a code', () => {
    const text = JSON.stringify(bench.logs);
    assert.ok(bench.logs.length > 0);
    assert.ok(!text.includes('sandbox-secret') && !text.includes(APPS.ipLocked.appSecret));
    // Paths such as /v1.0/oauth2/userAccessToken may appear; token-bearing keys and query strings may not.
    assert.ok(!/access_token=|appsecret=|"(authCode|accessToken|token)":/i.test(text));
    assert.ok(
      bench.logs.every((l) => !('url' in l.obj)),
      'URLs (with access_token in the query) are never logged',
    );
  });
});

function identity(outcome: Outcome) {
  assert.ifError(outcome.err);
  assert.ok(outcome.identity);
  return outcome.identity;
}
