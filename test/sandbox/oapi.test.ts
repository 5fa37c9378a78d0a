// oapi.dingtalk.com topapi: user and department lookups, membership, contacts scope, allow-list.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID, sampleDeptIds, sampleUserids } from '../../src/sandbox/index.js';
import { appToken, getJson, postForm, postJson, startSandbox, type Running } from './helpers.js';

const unionIdOf = (run: Running, userid: string) => run.sandbox.org.people.find((p) => p.userid === userid)?.unionId ?? '';

describe('topapi user lookups', () => {
  let run: Running;
  let call: (path: string, body: Record<string, unknown>) => ReturnType<typeof postJson>;
  let form: (path: string, body: Record<string, string>) => ReturnType<typeof postForm>;
  before(async () => {
    run = await startSandbox();
    const token = await appToken(run.url);
    call = (path, body) => postJson(`${run.url}${path}?access_token=${token}`, body);
    form = (path, body) => postForm(`${run.url}${path}?access_token=${token}`, body);
  });
  after(() => run.close());

  it('getbyunionid accepts JSON and form bodies', async () => {
    const unionid = unionIdOf(run, sampleUserids.manager);
    const json = await call('/topapi/user/getbyunionid', { unionid });
    const viaForm = await form('/topapi/user/getbyunionid', { unionid });
    for (const res of [json, viaForm]) {
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.result, { contact_type: 0, userid: sampleUserids.manager });
      assert.equal(res.body.errmsg, 'ok');
    }
  });

  it('getbyunionid: external contact is contact_type 1; departed, other org and unknown are 60121', async () => {
    const external = await call('/topapi/user/getbyunionid', { unionid: unionIdOf(run, sampleUserids.externalContact) });
    assert.deepEqual(external.body.result, { contact_type: 1, userid: sampleUserids.externalContact });
    for (const userid of [sampleUserids.departed, sampleUserids.otherOrg]) {
      const res = await call('/topapi/user/getbyunionid', { unionid: unionIdOf(run, userid) });
      assert.deepEqual(res.body, { errcode: 60121, errmsg: '找不到该用户' }, userid);
    }
    assert.equal((await call('/topapi/user/getbyunionid', { unionid: 'nobody' })).body.errcode, 60121);
    assert.equal((await call('/topapi/user/getbyunionid', {})).body.errcode, 40035);
  });

  it('v2/user/get returns the org profile; form bodies work too', async () => {
    const res = await form('/topapi/v2/user/get', { userid: sampleUserids.manager, language: 'zh_CN' });
    const r = res.body.result as Record<string, unknown>;
    assert.equal(res.body.errcode, 0);
    assert.equal(r.userid, sampleUserids.manager);
    assert.equal(r.unionid, unionIdOf(run, sampleUserids.manager));
    assert.equal(r.name, '张伟');
    assert.equal(r.org_email, 'wei.zhang@sandbox.example.com');
    assert.equal(r.job_number, 'SX0001');
    assert.equal(r.title, '研发总监');
    assert.deepEqual(r.dept_id_list, [sampleDeptIds.rd]);
    assert.deepEqual(r.leader_in_dept, [{ dept_id: sampleDeptIds.rd, leader: true }]);
    assert.equal(r.state_code, '86');
    assert.match(String(r.mobile), /^1\d{10}$/);
    assert.equal(r.active, true);
  });

  it('sample cases: no email at all, admin@ mailbox, two people named 王芳', async () => {
    const noEmail = (await call('/topapi/v2/user/get', { userid: sampleUserids.noEmail })).body.result as Record<string, unknown>;
    assert.equal('org_email' in noEmail, false);
    assert.equal('email' in noEmail, false);
    const admin = (await call('/topapi/v2/user/get', { userid: sampleUserids.adminMailbox })).body.result as Record<string, unknown>;
    assert.match(String(admin.org_email), /^admin@/);
    const a = (await call('/topapi/v2/user/get', { userid: sampleUserids.wangFangPlatform })).body.result as Record<string, unknown>;
    const b = (await call('/topapi/v2/user/get', { userid: sampleUserids.wangFangMarketing })).body.result as Record<string, unknown>;
    assert.equal(a.name, '王芳');
    assert.equal(b.name, '王芳');
    assert.notEqual(a.unionid, b.unionid);
    assert.notDeepEqual(a.dept_id_list, b.dept_id_list);
  });

  it('v2/user/get: external contact, departed and unknown are 60121; missing userid 40035', async () => {
    for (const userid of [sampleUserids.externalContact, sampleUserids.departed, sampleUserids.otherOrg, 'nobody']) {
      assert.equal((await call('/topapi/v2/user/get', { userid })).body.errcode, 60121, userid);
    }
    assert.deepEqual((await call('/topapi/v2/user/get', {})).body, { errcode: 40035, errmsg: '缺少参数 userid' });
  });

  it('removeMember: the person leaves; lookups answer 60121 but their DingTalk login still works', async () => {
    const userid = sampleUserids.wangFangPlatform;
    assert.equal((await call('/topapi/user/getbyunionid', { unionid: unionIdOf(run, userid) })).body.errcode, 0);
    run.sandbox.removeMember(userid);
    assert.equal((await call('/topapi/user/getbyunionid', { unionid: unionIdOf(run, userid) })).body.errcode, 60121);
    assert.equal((await call('/topapi/v2/user/get', { userid })).body.errcode, 60121);
    assert.equal((await call('/topapi/v2/department/listparentbyuser', { userid })).body.errcode, 60121);
    const tokens = await postJson(`${run.url}/v1.0/oauth2/userAccessToken`, {
      clientId: SANDBOX_APP_KEY,
      clientSecret: SANDBOX_APP_SECRET,
      code: run.sandbox.issueAuthCode(SANDBOX_APP_KEY, userid),
      grantType: 'authorization_code',
    });
    const me = await getJson(`${run.url}/v1.0/contact/users/me`, { 'x-acs-dingtalk-access-token': String(tokens.body.accessToken) });
    assert.equal(me.status, 200);
    assert.throws(() => run.sandbox.removeMember('nobody'), /unknown userid/);
  });

  it('v2/user/getuserinfo redeems an in-app code once', async () => {
    const code = run.sandbox.issueInAppCode(SANDBOX_APP_KEY, sampleUserids.liNa);
    const res = await call('/topapi/v2/user/getuserinfo', { code });
    const r = res.body.result as Record<string, unknown>;
    assert.equal(res.body.errcode, 0);
    assert.equal(r.userid, sampleUserids.liNa);
    assert.equal(r.unionid, unionIdOf(run, sampleUserids.liNa));
    assert.equal(r.name, '李娜');
    assert.equal(typeof r.sys, 'boolean');
    assert.equal((await call('/topapi/v2/user/getuserinfo', { code })).body.errcode, 40078);
    assert.equal((await call('/topapi/v2/user/getuserinfo', {})).body.errcode, 40035);
  });

  it('access_token: missing or bad → 40014; GET → 43002', async () => {
    assert.equal((await postJson(`${run.url}/topapi/v2/user/get`, { userid: sampleUserids.manager })).body.errcode, 40014);
    assert.equal((await postJson(`${run.url}/topapi/v2/user/get?access_token=bad`, { userid: sampleUserids.manager })).body.errcode, 40014);
    const get = await getJson(`${run.url}/topapi/v2/user/get?access_token=bad`);
    assert.deepEqual([get.status, get.body.errcode], [200, 43002]);
  });
});

describe('topapi departments', () => {
  let run: Running;
  let call: (path: string, body: Record<string, unknown>) => ReturnType<typeof postJson>;
  before(async () => {
    run = await startSandbox();
    const token = await appToken(run.url);
    call = (path, body) => postJson(`${run.url}${path}?access_token=${token}`, body);
  });
  after(() => run.close());

  it('v2/department/get, with JSON numbers or form strings', async () => {
    const platform = (await call('/topapi/v2/department/get', { dept_id: sampleDeptIds.platform })).body.result as Record<string, unknown>;
    assert.deepEqual([platform.name, platform.parent_id, platform.dept_id], ['平台组', sampleDeptIds.rd, sampleDeptIds.platform]);
    const token = await appToken(run.url);
    const viaForm = await postForm(`${run.url}/topapi/v2/department/get?access_token=${token}`, { dept_id: '100', language: 'zh_CN' });
    const rd = viaForm.body.result as Record<string, unknown>;
    assert.equal(rd.name, '研发中心');
    assert.deepEqual(rd.dept_manager_userid_list, [sampleUserids.manager]);
    const root = (await call('/topapi/v2/department/get', { dept_id: 1 })).body.result as Record<string, unknown>;
    assert.equal('parent_id' in root, false);
  });

  it('department errors: unknown 60003, not a number 400002, missing 40035', async () => {
    assert.equal((await call('/topapi/v2/department/get', { dept_id: 999 })).body.errcode, 60003);
    assert.equal((await call('/topapi/v2/department/get', { dept_id: 'abc' })).body.errcode, 400002);
    assert.equal((await call('/topapi/v2/department/get', {})).body.errcode, 40035);
  });

  it('listparentbyuser gives one chain per department, up to root 1', async () => {
    const res = await call('/topapi/v2/department/listparentbyuser', { userid: sampleUserids.twoDepartments });
    assert.deepEqual(res.body.result, {
      parent_list: [{ parent_dept_id_list: [101, 100, 1] }, { parent_dept_id_list: [200, 1] }],
    });
  });

  it('listparentbydept and listsub', async () => {
    assert.deepEqual((await call('/topapi/v2/department/listparentbydept', { dept_id: 301 })).body.result, {
      parent_id_list: [301, 300, 1],
    });
    const top = (await call('/topapi/v2/department/listsub', {})).body.result as { dept_id: number; parent_id: number }[];
    assert.deepEqual(
      top.map((d) => d.dept_id),
      [100, 200, 300, 400],
    );
    assert.ok(top.every((d) => d.parent_id === 1));
    const market = (await call('/topapi/v2/department/listsub', { dept_id: 300 })).body.result as { name: string }[];
    assert.deepEqual(
      market.map((d) => d.name),
      ['华东区', '华南区'],
    );
  });
});

describe('app restrictions: contacts scope (60011) and IP allow-list (60020)', () => {
  let run: Running;
  before(async () => {
    run = await startSandbox({
      apps: [
        // The scope covers 研发中心 and everything below it.
        {
          appKey: SANDBOX_APP_KEY,
          appSecret: SANDBOX_APP_SECRET,
          corpId: SANDBOX_CORP_ID,
          redirectUris: ['http://127.0.0.1:9/cb'],
          contactsScope: [100],
          allowedIps: ['127.0.0.1'],
        },
        {
          appKey: 'dingelsewhere',
          appSecret: 'e',
          corpId: SANDBOX_CORP_ID,
          redirectUris: ['http://127.0.0.1:9/cb'],
          allowedIps: ['198.51.100.7'],
        },
      ],
    });
  });
  after(() => run.close());

  it('people and departments outside the contacts scope are 60011', async () => {
    const token = await appToken(run.url);
    const call = (path: string, body: Record<string, unknown>) => postJson(`${run.url}${path}?access_token=${token}`, body);
    assert.equal((await call('/topapi/v2/user/get', { userid: sampleUserids.manager })).body.errcode, 0);
    assert.equal((await call('/topapi/v2/user/get', { userid: sampleUserids.wangFangPlatform })).body.errcode, 0);
    const outside = await call('/topapi/v2/user/get', { userid: sampleUserids.marketingHead });
    assert.equal(outside.body.errcode, 60011);
    assert.equal(typeof outside.body.errmsg, 'string');
    assert.equal((await call('/topapi/v2/department/get', { dept_id: 300 })).body.errcode, 60011);
    assert.equal((await call('/topapi/v2/department/get', { dept_id: 101 })).body.errcode, 0);
    // listparentbyuser is documented as not limited by the contacts scope.
    assert.equal((await call('/topapi/v2/department/listparentbyuser', { userid: sampleUserids.marketingHead })).body.errcode, 0);
  });

  it('an allow-list that holds the caller works; one that does not answers 60020 on both token calls', async () => {
    assert.equal(typeof (await appToken(run.url)), 'string');
    const legacy = await getJson(`${run.url}/gettoken?appkey=dingelsewhere&appsecret=e`);
    assert.equal(legacy.body.errcode, 60020);
    assert.match(String(legacy.body.errmsg), /request ip=127\.0\.0\.1 appKey\(dingelsewhere\)/);
    const v1 = await postJson(`${run.url}/v1.0/oauth2/accessToken`, { appKey: 'dingelsewhere', appSecret: 'e' });
    assert.deepEqual([v1.status, v1.body.code], [403, 'Forbidden.AccessDenied.IpNotInWhiteList']);
  });
});
