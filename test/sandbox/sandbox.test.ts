// The sandbox must answer with the same shape (keys, value types) as DingTalk's real bodies,
// captured in test/fixtures/dingtalk (see its README for sources).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID, sampleUserids } from '../../src/sandbox/index.js';
import { appToken, getJson, loadFixture, postJson, shapeOf, startSandbox, userTokens, type JsonResponse, type Running } from './helpers.js';

const LOCKED = { appKey: 'dinglockedapp', appSecret: 'locked-secret' };

describe('sandbox bodies match captured DingTalk bodies', () => {
  let run: Running;
  before(async () => {
    run = await startSandbox({
      apps: [
        { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: ['http://127.0.0.1:9/cb'] },
        // No Contact.User.Read, and an allow-list that excludes 127.0.0.1.
        { ...LOCKED, corpId: SANDBOX_CORP_ID, redirectUris: ['http://127.0.0.1:9/cb'], grantedScopes: [], allowedIps: ['192.0.2.1'] },
      ],
    });
  });
  after(() => run.close());

  function assertShape(res: JsonResponse, fixture: string, status: number) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.deepEqual(shapeOf(res.body), shapeOf(loadFixture(fixture)), `shape of ${fixture}`);
  }

  async function userToken(appKey: string, userid: string, secret: string): Promise<string> {
    const code = run.sandbox.issueAuthCode(appKey, userid);
    const res = await postJson(`${run.url}/v1.0/oauth2/userAccessToken`, {
      clientId: appKey,
      clientSecret: secret,
      code,
      grantType: 'authorization_code',
    });
    return String(res.body.accessToken);
  }

  it('users/me 200 (person without avatar or email)', async () => {
    const token = await userToken(SANDBOX_APP_KEY, sampleUserids.noEmail, SANDBOX_APP_SECRET);
    const res = await getJson(`${run.url}/v1.0/contact/users/me`, { 'x-acs-dingtalk-access-token': token });
    assertShape(res, 'v1-users-me', 200);
  });

  it('users/me 403 Forbidden.AccessDenied.AccessTokenPermissionDenied without Contact.User.Read', async () => {
    const token = await userToken(LOCKED.appKey, sampleUserids.manager, LOCKED.appSecret);
    const res = await getJson(`${run.url}/v1.0/contact/users/me`, { 'x-acs-dingtalk-access-token': token });
    assertShape(res, 'v1-403-access-token-permission-denied', 403);
    assert.equal(res.body.code, 'Forbidden.AccessDenied.AccessTokenPermissionDenied');
    assert.deepEqual(res.body.accessdenieddetail, { requiredScopes: ['Contact.User.Read'] });
  });

  it('400 InvalidAuthentication for a bad token', async () => {
    const res = await getJson(`${run.url}/v1.0/contact/users/me`, { 'x-acs-dingtalk-access-token': 'nope' });
    assertShape(res, 'v1-400-invalid-authentication', 400);
    assert.equal(res.body.code, 'InvalidAuthentication');
    assert.match(String(res.body.requestid), /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    assert.equal(res.headers.get('x-acs-request-id'), res.body.requestid);
  });

  it('404 InvalidAction.NotFound for an unknown path', async () => {
    const res = await getJson(`${run.url}/v1.0/contact/nothing/here`);
    assertShape(res, 'v1-404-invalid-action-not-found', 404);
    assert.equal(res.body.message, loadFixture('v1-404-invalid-action-not-found').message);
  });

  it('400 Missingbody for a form body to /v1.0/oauth2/accessToken', async () => {
    const res = await fetch(`${run.url}/v1.0/oauth2/accessToken`, {
      method: 'POST',
      body: new URLSearchParams({ appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    assertShape({ status: res.status, body, headers: res.headers }, 'v1-400-missing-body', 400);
    assert.equal(body.code, 'Missingbody');
    assert.equal(body.message, 'body is mandatory for this action.');
  });

  it('403 IpNotInWhiteList on the v1.0 app token', async () => {
    const res = await postJson(`${run.url}/v1.0/oauth2/accessToken`, LOCKED);
    assertShape(res, 'v1-403-ip-not-in-white-list', 403);
    assert.match(String(res.body.message), /request ip=127\.0\.0\.1 appKey\(dinglockedapp\)$/);
  });

  it('v1.0 app token 200', async () => {
    const res = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET });
    assertShape(res, 'v1-access-token', 200);
    assert.equal(res.body.expireIn, 7200);
  });

  it('gettoken 200 and 40096', async () => {
    assertShape(await getJson(`${run.url}/gettoken?appkey=${SANDBOX_APP_KEY}&appsecret=${SANDBOX_APP_SECRET}`), 'oapi-gettoken', 200);
    const bad = await getJson(`${run.url}/gettoken?appkey=${SANDBOX_APP_KEY}&appsecret=wrong`);
    assertShape(bad, 'oapi-40096-bad-app-secret', 200);
    assert.deepEqual(bad.body, loadFixture('oapi-40096-bad-app-secret'));
  });

  it('gettoken 60020 names the caller ip and appKey', async () => {
    const res = await getJson(`${run.url}/gettoken?appkey=${LOCKED.appKey}&appsecret=${LOCKED.appSecret}`);
    assertShape(res, 'oapi-60020-ip-not-in-white-list', 200);
    assert.equal(res.body.errcode, 60020);
    assert.match(String(res.body.errmsg), /^访问ip不在白名单之中.*request ip=127\.0\.0\.1 appKey\(dinglockedapp\)$/);
  });

  it('getbyunionid 200, 60121 and 40014', async () => {
    const token = await appToken(run.url);
    const person = run.sandbox.org.people.find((p) => p.userid === sampleUserids.manager);
    const ok = await postJson(`${run.url}/topapi/user/getbyunionid?access_token=${token}`, { unionid: person?.unionId });
    assertShape(ok, 'oapi-getbyunionid', 200);
    assert.deepEqual(ok.body.result, loadFixture('oapi-getbyunionid').result);
    const departed = run.sandbox.org.people.find((p) => p.userid === sampleUserids.departed);
    const gone = await postJson(`${run.url}/topapi/user/getbyunionid?access_token=${token}`, { unionid: departed?.unionId });
    assertShape(gone, 'oapi-60121-user-not-found', 200);
    assert.deepEqual(gone.body, loadFixture('oapi-60121-user-not-found'));
    const badToken = await postJson(`${run.url}/topapi/user/getbyunionid?access_token=nope`, { unionid: 'x' });
    assert.deepEqual(badToken.body, loadFixture('oapi-40014-invalid-token'));
  });

  it('the user token response has the documented fields', async () => {
    const res = await userTokens(run.url, run.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager));
    assert.deepEqual(shapeOf(res.body), { accessToken: 'string', corpId: 'string', expireIn: 'number', refreshToken: 'string' });
  });
});
