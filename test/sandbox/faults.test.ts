// setFault / clearFaults: every error mode the bridge must survive.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createDingTalkSandbox, SANDBOX_APP_KEY, SANDBOX_APP_SECRET, sampleUserids } from '../../src/sandbox/index.js';
import { appToken, postJson, startSandbox, type Running } from './helpers.js';

describe('faults', () => {
  let run: Running;
  let token: string;
  let unionid: string;
  const lookup = () => postJson(`${run.url}/topapi/user/getbyunionid?access_token=${token}`, { unionid });
  const appTokenV1 = () => postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });

  before(async () => {
    run = await startSandbox();
    token = await appToken(run.url);
    unionid = run.sandbox.org.people.find((p) => p.userid === sampleUserids.manager)?.unionId ?? '';
  });
  afterEach(() => run.sandbox.clearFaults());
  after(() => run.close());

  for (const errcode of [-1, 40014, 60011, 60020, 60121, 90002, 90018, 90019]) {
    it(`errcode ${errcode} on a topapi path: HTTP 200 with errcode/errmsg`, async () => {
      run.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode });
      const res = await lookup();
      assert.equal(res.status, 200);
      assert.equal(res.body.errcode, errcode);
      assert.equal(typeof res.body.errmsg, 'string');
      assert.ok(String(res.body.errmsg).length > 0);
      assert.equal('result' in res.body, false);
    });
  }

  it('errmsg is taken as given; times limits the fault; the call is still counted', async () => {
    const before = run.sandbox.stats.calls['/topapi/user/getbyunionid'] ?? 0;
    run.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: -1, errmsg: '系统繁忙', times: 2 });
    assert.deepEqual((await lookup()).body, { errcode: -1, errmsg: '系统繁忙' });
    assert.equal((await lookup()).body.errcode, -1);
    assert.equal((await lookup()).body.errcode, 0);
    assert.equal(run.sandbox.stats.calls['/topapi/user/getbyunionid'], before + 3);
  });

  it('only the named path is affected; "*" affects every path', async () => {
    run.sandbox.setFault({ api: '/topapi/v2/user/get', kind: 'errcode', errcode: 90018 });
    assert.equal((await lookup()).body.errcode, 0);
    run.sandbox.setFault({ api: '*', kind: 'errcode', errcode: 90002 });
    assert.equal((await lookup()).body.errcode, 90002);
    assert.equal(
      ((await fetch(`${run.url}/gettoken?appkey=a&appsecret=b`).then((r) => r.json())) as Record<string, unknown>).errcode,
      90002,
    );
  });

  it('errcode faults on api.dingtalk.com paths use the v1.0 error shape', async () => {
    const expected: [number, number, string][] = [
      [90018, 403, 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi'],
      [90019, 403, 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi'],
      [90002, 403, 'Forbidden.AccessDenied.QpsLimitForApi'],
      [40014, 400, 'InvalidAuthentication'],
      [60020, 403, 'Forbidden.AccessDenied.IpNotInWhiteList'],
      [-1, 503, 'ServiceUnavailable'],
    ];
    for (const [errcode, status, code] of expected) {
      run.sandbox.setFault({ api: '/v1.0/oauth2/accessToken', kind: 'errcode', errcode, times: 1 });
      const res = await appTokenV1();
      assert.deepEqual([res.status, res.body.code], [status, code], String(errcode));
      assert.equal(typeof res.body.requestid, 'string');
      assert.equal(typeof res.body.message, 'string');
    }
    assert.equal((await appTokenV1()).status, 200);
  });

  it('http faults answer the given status and body verbatim', async () => {
    // The per-IP anti-crawl answer is not the normal envelope (upstream-apis.md §3.6).
    const body = { status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid: 'u-1' };
    run.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'http', status: 403, body, times: 1 });
    const res = await lookup();
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, body);
    run.sandbox.setFault({ api: '/v1.0/oauth2/accessToken', kind: 'http', status: 502, body: { message: 'bad gateway' }, times: 1 });
    assert.equal((await appTokenV1()).status, 502);
  });

  it('delay faults hold the answer, which is then normal; a client timeout fires first', async () => {
    run.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'delay', ms: 150, times: 1 });
    const started = performance.now();
    const res = await lookup();
    assert.ok(performance.now() - started >= 140, 'answer was delayed');
    assert.equal(res.body.errcode, 0);
    run.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'delay', ms: 2000, times: 1 });
    await assert.rejects(
      fetch(`${run.url}/topapi/user/getbyunionid?access_token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ unionid }),
        signal: AbortSignal.timeout(50),
      }),
      /TimeoutError|aborted/i,
    );
  });

  it('clearFaults removes every fault', async () => {
    run.sandbox.setFault({ api: '*', kind: 'errcode', errcode: -1 });
    run.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'http', status: 500, body: {} });
    run.sandbox.clearFaults();
    assert.equal((await lookup()).body.errcode, 0);
  });
});

describe('close() with a delayed request in flight', () => {
  it('resolves promptly and the pending request fails', async () => {
    const sandbox = createDingTalkSandbox();
    const listener = await sandbox.listen();
    sandbox.setFault({ api: '/gettoken', kind: 'delay', ms: 60_000 });
    const pending = fetch(`${listener.url}/gettoken?appkey=${SANDBOX_APP_KEY}&appsecret=${SANDBOX_APP_SECRET}`);
    // Wait until the server has the request (the call counter moves before the delay starts).
    while ((sandbox.stats.calls['/gettoken'] ?? 0) === 0) await new Promise((r) => setImmediate(r));
    const started = performance.now();
    await listener.close();
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(pending);
  });
});
