// api.dingtalk.com v1.0: user token exchange/refresh, users/me, app tokens, stats.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID, sampleUserids } from '../../src/sandbox/index.js';
import { getJson, manualClock, postForm, postJson, startSandbox, userTokens, type Running } from './helpers.js';

const HOUR = 3600 * 1000;

describe('POST /v1.0/oauth2/userAccessToken', () => {
  let run: Running;
  const clock = manualClock();
  const tokenUrl = () => `${run.url}/v1.0/oauth2/userAccessToken`;
  const creds = { clientId: SANDBOX_APP_KEY, clientSecret: SANDBOX_APP_SECRET };
  before(async () => {
    run = await startSandbox({ clock: clock.now });
  });
  after(() => run.close());

  it('takes JSON only: form, text/plain and malformed bodies are 400 Missingbody', async () => {
    const code = run.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager);
    const form = await postForm(tokenUrl(), { ...creds, code, grantType: 'authorization_code' });
    assert.equal(form.status, 400);
    assert.equal(form.body.code, 'Missingbody');
    const plain = await fetch(tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ ...creds, code, grantType: 'authorization_code' }),
    });
    assert.equal(((await plain.json()) as Record<string, unknown>).code, 'Missingbody');
    const broken = await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"clientId":' });
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as Record<string, unknown>).code, 'Missingbody');
    // The code survived the refused attempts.
    assert.equal((await userTokens(run.url, code)).status, 200);
  });

  it('names the missing field, rejects bad credentials and unknown grant types', async () => {
    const missingId = await postJson(tokenUrl(), { clientSecret: 'x', grantType: 'authorization_code', code: 'c' });
    assert.deepEqual(
      [missingId.status, missingId.body.code, missingId.body.message],
      [400, 'MissingclientId', 'clientId is mandatory for this action.'],
    );
    const missingCode = await postJson(tokenUrl(), { ...creds, grantType: 'authorization_code' });
    assert.equal(missingCode.body.code, 'Missingcode');
    const badSecret = await postJson(tokenUrl(), { ...creds, clientSecret: 'wrong', grantType: 'authorization_code', code: 'c' });
    assert.deepEqual([badSecret.status, badSecret.body.code], [400, 'invalidClientIdOrSecret']);
    const grant = await postJson(tokenUrl(), { ...creds, grantType: 'password', code: 'c' });
    assert.deepEqual([grant.status, grant.body.code], [400, 'invalidParameter.grantType.invalid']);
    for (const res of [missingId, missingCode, badSecret, grant]) assert.equal(typeof res.body.requestid, 'string');
  });

  it('refresh returns the same accessToken while valid, a new one after expiry; tokens last 7200 s', async () => {
    const first = await userTokens(run.url, run.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.liNa));
    const refreshBody = { ...creds, grantType: 'refresh_token', refreshToken: first.body.refreshToken };
    const same = await postJson(tokenUrl(), refreshBody);
    assert.equal(same.status, 200);
    assert.equal(same.body.accessToken, first.body.accessToken);
    assert.equal(same.body.corpId, SANDBOX_CORP_ID);
    clock.advance(2 * HOUR + 1000);
    const me = await getJson(`${run.url}/v1.0/contact/users/me`, { 'x-acs-dingtalk-access-token': String(first.body.accessToken) });
    assert.deepEqual([me.status, me.body.code], [400, 'InvalidAuthentication']);
    const renewed = await postJson(tokenUrl(), refreshBody);
    assert.equal(renewed.status, 200);
    assert.notEqual(renewed.body.accessToken, first.body.accessToken);
    const ok = await getJson(`${run.url}/v1.0/contact/users/me`, { 'x-acs-dingtalk-access-token': String(renewed.body.accessToken) });
    assert.equal(ok.status, 200);
    const unknown = await postJson(tokenUrl(), { ...refreshBody, refreshToken: 'nope' });
    assert.equal(unknown.status, 400);
    const missing = await postJson(tokenUrl(), { ...creds, grantType: 'refresh_token' });
    assert.equal(missing.body.code, 'MissingrefreshToken');
  });
});

describe('GET /v1.0/contact/users/me', () => {
  let run: Running;
  before(async () => {
    run = await startSandbox({
      apps: [
        { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: ['http://127.0.0.1:9/cb'] },
        {
          appKey: 'dingnomobile',
          appSecret: 'nm',
          corpId: SANDBOX_CORP_ID,
          redirectUris: ['http://127.0.0.1:9/cb'],
          grantedScopes: ['Contact.User.Read'],
        },
      ],
    });
  });
  after(() => run.close());

  async function tokenFor(userid: string, appKey = SANDBOX_APP_KEY, secret = SANDBOX_APP_SECRET): Promise<string> {
    const code = run.sandbox.issueAuthCode(appKey, userid);
    const res = await postJson(`${run.url}/v1.0/oauth2/userAccessToken`, {
      clientId: appKey,
      clientSecret: secret,
      code,
      grantType: 'authorization_code',
    });
    return String(res.body.accessToken);
  }
  const me = (headers: Record<string, string>, path = 'me') => getJson(`${run.url}/v1.0/contact/users/${path}`, headers);

  it('reads only the x-acs-dingtalk-access-token header: Bearer is 400 InvalidAuthentication', async () => {
    const token = await tokenFor(sampleUserids.manager);
    const bearer = await me({ authorization: `Bearer ${token}` });
    assert.deepEqual([bearer.status, bearer.body.code], [400, 'InvalidAuthentication']);
    const ok = await me({ 'x-acs-dingtalk-access-token': token });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.nick, '张伟');
    assert.equal(ok.body.unionId, run.sandbox.org.people.find((p) => p.userid === sampleUserids.manager)?.unionId);
    assert.equal('userid' in ok.body, false, 'users/me never returns the org userid');
  });

  it('answers for the own unionId too, 403 for somebody else', async () => {
    const token = await tokenFor(sampleUserids.manager);
    const own = run.sandbox.org.people.find((p) => p.userid === sampleUserids.manager)?.unionId ?? '';
    assert.equal((await me({ 'x-acs-dingtalk-access-token': token }, own)).status, 200);
    const other = await me({ 'x-acs-dingtalk-access-token': token }, 'someoneElse');
    assert.equal(other.status, 403);
  });

  it('an app token is not a user token', async () => {
    const app = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });
    const res = await me({ 'x-acs-dingtalk-access-token': String(app.body.accessToken) });
    assert.deepEqual([res.status, res.body.code], [400, 'InvalidAuthentication']);
  });

  it('returns the personal email and avatar when the person has them, mobile only with Contact.User.mobile', async () => {
    const lina = await me({ 'x-acs-dingtalk-access-token': await tokenFor(sampleUserids.liNa) });
    assert.equal(lina.body.email, 'lina.personal@mail.example.net');
    assert.match(String(lina.body.avatarUrl), /^https:\/\//);
    assert.equal(lina.body.stateCode, '86');
    const noEmail = await me({ 'x-acs-dingtalk-access-token': await tokenFor(sampleUserids.noEmail) });
    assert.equal('email' in noEmail.body, false);
    const noMobile = await me({ 'x-acs-dingtalk-access-token': await tokenFor(sampleUserids.manager, 'dingnomobile', 'nm') });
    assert.equal(noMobile.status, 200);
    assert.equal('mobile' in noMobile.body, false);
    assert.equal('stateCode' in noMobile.body, false);
  });

  it('still answers for someone who left the organisation', async () => {
    const res = await me({ 'x-acs-dingtalk-access-token': await tokenFor(sampleUserids.departed) });
    assert.equal(res.status, 200);
    assert.equal(res.body.nick, '杨磊');
  });
});

describe('app tokens and stats', () => {
  let run: Running;
  const clock = manualClock();
  before(async () => {
    run = await startSandbox({ clock: clock.now });
  });
  after(() => run.close());

  it('v1.0 accessToken and gettoken hand out the same token; it works on topapi; stats count each call', async () => {
    run.sandbox.resetStats();
    const v1 = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });
    assert.deepEqual([v1.status, v1.body.expireIn], [200, 7200]);
    assert.equal(run.sandbox.stats.calls['/v1.0/oauth2/accessToken'], 1);
    const legacy = await getJson(`${run.url}/gettoken?appkey=${SANDBOX_APP_KEY}&appsecret=${SANDBOX_APP_SECRET}`);
    assert.equal(legacy.body.access_token, v1.body.accessToken);
    const lookup = await postJson(`${run.url}/topapi/v2/user/get?access_token=${String(v1.body.accessToken)}`, {
      userid: sampleUserids.manager,
    });
    assert.equal(lookup.body.errcode, 0);
    assert.equal(run.sandbox.stats.calls['/gettoken'], 1);
    assert.equal(run.sandbox.stats.calls['/topapi/v2/user/get'], 1);
    await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });
    assert.equal(run.sandbox.stats.calls['/v1.0/oauth2/accessToken'], 2);
    run.sandbox.resetStats();
    assert.equal(run.sandbox.stats.calls['/v1.0/oauth2/accessToken'], undefined);
  });

  it('an expired app token is refused with 40014 and replaced by a new one', async () => {
    const first = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });
    clock.advance(2 * HOUR + 1000);
    const stale = await postJson(`${run.url}/topapi/v2/user/get?access_token=${String(first.body.accessToken)}`, {
      userid: sampleUserids.manager,
    });
    assert.equal(stale.body.errcode, 40014);
    const next = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });
    assert.notEqual(next.body.accessToken, first.body.accessToken);
  });

  it('app token errors: missing field, bad secret', async () => {
    const missing = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appSecret: 'x' });
    assert.deepEqual([missing.status, missing.body.code], [400, 'MissingappKey']);
    const bad = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: 'x' });
    assert.deepEqual([bad.status, bad.body.code], [400, 'invalidClientIdOrSecret']);
  });

  it('the unified /v1.0/oauth2/{corpId}/token answers snake_case', async () => {
    const body = { client_id: SANDBOX_APP_KEY, client_secret: SANDBOX_APP_SECRET, grant_type: 'client_credentials' };
    const ok = await postJson(`${run.url}/v1.0/oauth2/${SANDBOX_CORP_ID}/token`, body);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.expires_in, 7200);
    assert.equal(typeof ok.body.access_token, 'string');
    assert.equal((await postJson(`${run.url}/v1.0/oauth2/dingother/token`, body)).status, 400);
    assert.equal((await postJson(`${run.url}/v1.0/oauth2/${SANDBOX_CORP_ID}/token`, { ...body, grant_type: 'x' })).status, 400);
  });

  it("an oversized body is a clean 4xx in each host's error shape, never a stack trace", async () => {
    const huge = JSON.stringify({ appKey: 'x'.repeat(100_000), appSecret: 'y' });
    const v1 = await fetch(`${run.url}/v1.0/oauth2/accessToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: huge,
    });
    const v1Body = (await v1.json()) as Record<string, unknown>;
    assert.equal(v1.status, 413);
    assert.deepEqual(Object.keys(v1Body).sort(), ['code', 'message', 'requestid']);
    const token = (await getJson(`${run.url}/gettoken?appkey=${SANDBOX_APP_KEY}&appsecret=${SANDBOX_APP_SECRET}`)).body.access_token;
    const oapi = await fetch(`${run.url}/topapi/v2/user/get?access_token=${String(token)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: huge,
    });
    const text = await oapi.text();
    assert.equal(oapi.status, 200);
    assert.deepEqual(JSON.parse(text), { errcode: 400002, errmsg: '无效的参数' });
    assert.doesNotMatch(text, /at .*\.(ts|js)/);
  });

  it('counts unknown paths and the query string does not split counts', async () => {
    run.sandbox.resetStats();
    await fetch(`${run.url}/gettoken?appkey=a&appsecret=b`);
    await fetch(`${run.url}/gettoken?appkey=c&appsecret=d`);
    await fetch(`${run.url}/nowhere`);
    assert.deepEqual({ ...run.sandbox.stats.calls }, { '/gettoken': 2, '/nowhere': 1 });
  });
});
