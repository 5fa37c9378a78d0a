/**
 * The DingTalk upstream against the sandbox DingTalk over real HTTP: sign-in, identity mapping,
 * membership, state handling, and recheck. Error cases: dingtalk-errors.test.ts; the shared app
 * token: dingtalk-app-token.test.ts.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  SANDBOX_CORP_ID,
  SANDBOX_OTHER_CORP_ID,
  sampleOrganisation,
  sampleUserids,
} from '../../src/sandbox/index.js';
import { LegStateError, UpstreamError, type UpstreamIdentity } from '../../src/upstreams/types.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { requestIpOf } from '../../src/upstreams/dingtalk/classify.js';
import { DingTalkCallError } from '../../src/upstreams/dingtalk/client.js';
import { createDepartments } from '../../src/upstreams/dingtalk/departments.js';
import { phoneOf } from '../../src/upstreams/dingtalk/identity.js';
import type { OrgApi } from '../../src/upstreams/dingtalk/org-api.js';
import { startBench, type Bench, type Mounted, type Outcome } from './dingtalk-harness.js';

const person = (userid: string) => sampleOrganisation.people.find((p) => p.userid === userid)!;

function identityOf(outcome: Outcome): UpstreamIdentity {
  assert.ifError(outcome.err);
  assert.ok(outcome.identity, 'no identity');
  return outcome.identity;
}

function upstreamErrorOf(outcome: Outcome): UpstreamError {
  assert.ok(outcome.err instanceof UpstreamError, `expected an UpstreamError, got ${inspect(outcome.err ?? 'an identity')}`);
  return outcome.err;
}

describe('dingtalk upstream: sign-in', () => {
  let bench: Bench;
  let dt: Mounted;
  before(async () => {
    bench = await startBench();
    dt = bench.add();
  });
  afterEach(() => bench.sandbox.clearFaults());
  after(() => bench.close());

  it('sends the browser to DingTalk with the documented authorize parameters and a fresh state', async () => {
    const first = await dt.start();
    const second = await dt.start();
    assert.equal(first.origin + first.pathname, `${bench.sandboxUrl}/oauth2/auth`);
    const q = Object.fromEntries(first.searchParams);
    assert.deepEqual(
      { ...q, state: undefined },
      {
        client_id: SANDBOX_APP_KEY,
        redirect_uri: dt.callbackUrl,
        response_type: 'code',
        scope: 'openid corpid',
        corpId: SANDBOX_CORP_ID,
        prompt: 'consent',
        state: undefined,
      },
    );
    assert.ok(q.state && q.state.length >= 16);
    assert.notEqual(q.state, second.searchParams.get('state'));
  });

  it('signs a member in through the login page with every identity field', async () => {
    const p = person(sampleUserids.wangFangPlatform);
    const identity = identityOf(await dt.signInWithForm(p.userid));
    assert.equal(identity.upstream, 'dingtalk');
    assert.equal(identity.subject, p.unionId);
    assert.equal(identity.linkDomain, `dingtalk:${SANDBOX_CORP_ID}`);
    assert.equal(identity.linkKey, p.unionId);
    assert.equal(identity.name, '王芳');
    assert.equal(identity.email, 'fang.wang@sandbox.example.com');
    assert.equal(identity.emailVerified, true);
    assert.equal(identity.phoneNumber, '+8613800000002');
    assert.equal(identity.phoneNumberVerified, true);
    assert.deepEqual(new Set(identity.groups), new Set(['研发中心/平台组', '研发中心']));
    assert.equal(identity.groups[0], '研发中心/平台组', 'own department first');
    assert.deepEqual(identity.usernameHints, [
      { source: 'orgEmail', value: 'fang.wang@sandbox.example.com' },
      { source: 'jobNumber', value: 'SX0102' },
      { source: 'userid', value: p.userid },
    ]);
    assert.deepEqual(identity.extra, {
      dingtalk_unionid: p.unionId,
      dingtalk_userid: p.userid,
      dingtalk_corp_id: SANDBOX_CORP_ID,
      job_number: 'SX0102',
      title: '高级工程师',
    });
    assert.deepEqual(JSON.parse(identity.connectorData!), { unionId: p.unionId, userid: p.userid, corpId: SANDBOX_CORP_ID });
  });

  it('uses the org mailbox, never the personal email of the profile, and keeps the picture', async () => {
    const p = person(sampleUserids.liNa);
    const identity = identityOf(await dt.signIn(p.userid));
    assert.equal(identity.email, 'na.li@sandbox.example.com');
    assert.equal(identity.emailVerified, true);
    assert.equal(identity.picture, p.avatarUrl);
    assert.deepEqual(identity.groups, ['研发中心/应用组', '研发中心']);
  });

  it('gives every department of a person in two, with their ancestors', async () => {
    const identity = identityOf(await dt.signIn(sampleUserids.twoDepartments));
    assert.deepEqual(new Set(identity.groups), new Set(['研发中心/平台组', '产品部', '研发中心']));
  });

  it('signs in a member without any email: no email claim, no email hints', async () => {
    const p = person(sampleUserids.noEmail);
    const identity = identityOf(await dt.signIn(p.userid));
    assert.equal(identity.email, undefined);
    assert.equal(identity.emailVerified, undefined);
    assert.deepEqual(
      identity.usernameHints.map((h) => h.source),
      ['jobNumber', 'userid'],
    );
    assert.deepEqual(identity.groups, ['人力资源部']);
    assert.equal(identity.phoneNumber, '+8613800000006');
  });

  it('keeps the two people called 王芳 apart', async () => {
    const a = identityOf(await dt.signIn(sampleUserids.wangFangPlatform));
    const b = identityOf(await dt.signIn(sampleUserids.wangFangMarketing));
    assert.equal(a.name, b.name);
    assert.notEqual(a.subject, b.subject);
    assert.notEqual(a.linkKey, b.linkKey);
    assert.deepEqual(b.groups, ['市场部/华东区', '市场部']);
  });

  it('refuses a person who left the organisation', async () => {
    const err = upstreamErrorOf(await dt.signInWithForm(sampleUserids.departed));
    assert.equal(err.reason, 'not_allowed');
    assert.equal(err.detail.code, '60121');
    assert.match(err.detail.text!.en!, /not \(or no longer\) a member/);
  });

  it('refuses an external contact of the organisation', async () => {
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.externalContact));
    assert.equal(err.reason, 'not_allowed');
    assert.equal(err.detail.params?.cause, 'external_contact');
    assert.match(err.detail.text!['zh-CN']!, /外部联系人/);
  });

  it('refuses a person of another organisation, by the token corpId and by the contacts', async () => {
    const chosenElsewhere = upstreamErrorOf(await dt.signIn(sampleUserids.otherOrg));
    assert.equal(chosenElsewhere.reason, 'not_allowed');
    assert.equal(chosenElsewhere.detail.params?.cause, 'wrong_org');
    assert.equal(chosenElsewhere.detail.params?.chosen, SANDBOX_OTHER_CORP_ID);
    const before = bench.sandbox.stats.calls['/v1.0/contact/users/me'] ?? 0;
    // A token claiming our corpId does not make them a member: the contacts say no.
    const claimed = upstreamErrorOf(await dt.signIn(sampleUserids.otherOrg, { corpId: SANDBOX_CORP_ID }));
    assert.equal(claimed.reason, 'not_allowed');
    assert.equal(claimed.detail.code, '60121');
    assert.equal(bench.sandbox.stats.calls['/v1.0/contact/users/me'], before + 1);
  });

  it('refuses a token without any corpId', async () => {
    const err = upstreamErrorOf(await dt.signIn(sampleUserids.manager, { withCorpId: false }));
    assert.equal(err.reason, 'not_allowed');
    assert.equal(err.detail.params?.cause, 'wrong_org');
  });

  it('burns the state before anything else: unknown and replayed states are refused without a code exchange', async () => {
    const exchanges = () => bench.sandbox.stats.calls['/v1.0/oauth2/userAccessToken'] ?? 0;
    const start = exchanges();
    const forged = await dt.callback({
      authCode: bench.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager),
      state: 'forged-state-value',
    });
    assert.ok(forged.err instanceof LegStateError);
    assert.equal(forged.err.reason, 'unknown');
    const missing = await dt.callback({ authCode: 'whatever' });
    assert.ok(missing.err instanceof LegStateError);
    assert.equal(missing.err.reason, 'missing');
    assert.equal(exchanges(), start);

    const state = (await dt.start()).searchParams.get('state')!;
    const query = { authCode: bench.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager), state };
    identityOf(await dt.callback(query));
    const replay = await dt.callback(query);
    assert.ok(replay.err instanceof LegStateError);
    assert.equal(exchanges(), start + 1);
  });

  it('a reused authCode fails and says to start again', async () => {
    const code = bench.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager);
    const state1 = (await dt.start()).searchParams.get('state')!;
    const state2 = (await dt.start()).searchParams.get('state')!;
    identityOf(await dt.callback({ authCode: code, state: state1 }));
    const err = upstreamErrorOf(await dt.callback({ authCode: code, state: state2 }));
    assert.equal(err.reason, 'failed');
    assert.equal(err.detail.params?.cause, 'code_rejected');
    assert.equal(err.detail.text!.en, 'The sign-in code was already used or expired — start again.');
  });

  it('accepts `code` as well as `authCode`', async () => {
    const state = (await dt.start()).searchParams.get('state')!;
    const identity = identityOf(await dt.callback({ code: bench.sandbox.issueAuthCode(SANDBOX_APP_KEY, sampleUserids.manager), state }));
    assert.equal(identity.extra.dingtalk_userid, sampleUserids.manager);
  });

  it('maps error=access_denied to denied and other errors to failed', async () => {
    const denied = upstreamErrorOf(await dt.signInWithForm('deny'));
    assert.equal(denied.reason, 'denied');
    const state = (await dt.start()).searchParams.get('state')!;
    const other = upstreamErrorOf(await dt.callback({ error: 'server_error', state }));
    assert.equal(other.reason, 'failed');
    assert.equal(other.detail.params?.error, 'server_error');
  });

  it('keeps no DingTalk token in the identity and logs none', async () => {
    const identity = identityOf(await dt.signIn(sampleUserids.manager));
    const appToken = (await dt.store.ephemeral.get<{ token: string }>(`dingtalk:apptoken:${SANDBOX_APP_KEY}`))?.token;
    assert.ok(appToken, 'the app token is cached in the store');
    const everything = JSON.stringify(identity) + JSON.stringify(bench.logs);
    assert.ok(!everything.includes(appToken));
    assert.ok(!everything.includes(SANDBOX_APP_SECRET));
    assert.ok(!/accessToken|refreshToken/i.test(identity.connectorData!));
  });
});

describe('dingtalk upstream: configuration variants', () => {
  let bench: Bench;
  before(async () => {
    bench = await startBench();
  });
  after(() => bench.close());

  it('format id gives stable dept:<id> groups, with or without ancestors', async () => {
    const withAncestors = bench.add({ groups: { source: 'departments', format: 'id', ancestors: true } });
    const own = bench.add({ groups: { source: 'departments', format: 'id', ancestors: false } });
    assert.deepEqual(identityOf(await withAncestors.signIn(sampleUserids.wangFangPlatform)).groups, ['dept:101', 'dept:100']);
    assert.deepEqual(identityOf(await own.signIn(sampleUserids.twoDepartments)).groups, ['dept:101', 'dept:200']);
  });

  it('path groups without ancestors, and no groups at all', async () => {
    const noAncestors = bench.add({ groups: { source: 'departments', format: 'path', ancestors: false } });
    const none = bench.add({ groups: 'none' });
    assert.deepEqual(identityOf(await noAncestors.signIn(sampleUserids.southSales)).groups, ['市场部/华南区']);
    assert.deepEqual(identityOf(await none.signIn(sampleUserids.southSales)).groups, []);
  });

  it('caches department names in the shared store', async () => {
    const dt = bench.add();
    identityOf(await dt.signIn(sampleUserids.wangFangPlatform));
    const calls = bench.sandbox.stats.calls['/topapi/v2/department/get'];
    identityOf(await dt.signIn(sampleUserids.adminMailbox));
    assert.equal(bench.sandbox.stats.calls['/topapi/v2/department/get'], calls, 'same departments: no new lookups');
  });

  it('links by userid and uses a configured linkDomain', async () => {
    const dt = bench.add({ linkKey: 'userid', linkDomain: 'acme-people' });
    const identity = identityOf(await dt.signIn(sampleUserids.manager));
    assert.equal(identity.linkKey, sampleUserids.manager);
    assert.equal(identity.linkDomain, 'acme-people');
    assert.equal(identity.subject, person(sampleUserids.manager).unionId);
  });

  it('allowAnyDingTalkUser without corpId: no corpId at DingTalk, anyone signs in, nothing to recheck', async () => {
    const dt = bench.add({ corpId: undefined, allowAnyDingTalkUser: true });
    const authorize = await dt.start();
    assert.equal(authorize.searchParams.get('corpId'), null);
    const identity = identityOf(await dt.signIn(sampleUserids.otherOrg));
    assert.equal(identity.linkDomain, 'dingtalk:any');
    assert.equal(identity.name, '黄强');
    assert.equal(identity.extra.dingtalk_corp_id, SANDBOX_OTHER_CORP_ID);
    assert.equal(identity.email, undefined, 'the personal email is not used');
    assert.equal(dt.upstream.recheck, undefined);
  });

  it('allowAnyDingTalkUser with corpId: members get the organisation profile, others the DingTalk one', async () => {
    const dt = bench.add({ allowAnyDingTalkUser: true });
    const member = identityOf(await dt.signIn(sampleUserids.manager));
    assert.equal(member.email, 'wei.zhang@sandbox.example.com');
    const departed = identityOf(await dt.signIn(sampleUserids.departed));
    assert.equal(departed.extra.dingtalk_userid, undefined);
    assert.deepEqual(departed.groups, []);
  });

  it("allowAnyDingTalkUser with corpId never shares the enforcing upstream's link domain", async () => {
    const enforced = bench.add();
    const permissive = bench.add({ allowAnyDingTalkUser: true });
    const fromEnforced = identityOf(await enforced.signIn(sampleUserids.manager));
    const fromPermissive = identityOf(await permissive.signIn(sampleUserids.manager));
    assert.equal(fromEnforced.linkDomain, `dingtalk:${SANDBOX_CORP_ID}`);
    assert.equal(fromPermissive.linkDomain, `dingtalk-any:${SANDBOX_CORP_ID}`);
  });
});

describe('dingtalk upstream: recheck', () => {
  let bench: Bench;
  let dt: Mounted;
  before(async () => {
    bench = await startBench();
    dt = bench.add();
  });
  afterEach(() => bench.sandbox.clearFaults());
  after(() => bench.close());

  it('answers a fresh identity from the contacts, uncached', async () => {
    const identity = identityOf(await dt.signIn(sampleUserids.marketingHead));
    const before = bench.sandbox.stats.calls['/topapi/user/getbyunionid'] ?? 0;
    const first = await dt.upstream.recheck!(identity);
    const second = await dt.upstream.recheck!(identity);
    assert.equal(bench.sandbox.stats.calls['/topapi/user/getbyunionid'], before + 2);
    assert.notEqual(first, 'revoked');
    assert.deepEqual(first, second);
    const fresh = first as UpstreamIdentity;
    assert.equal(fresh.subject, identity.subject);
    assert.equal(fresh.linkKey, identity.linkKey);
    assert.deepEqual(fresh.groups, ['市场部']);
    assert.equal(fresh.email, identity.email);
    assert.equal(fresh.connectorData, identity.connectorData);
  });

  it('answers revoked once the person left, and for external contacts and invalid userids', async () => {
    const identity = identityOf(await dt.signIn(sampleUserids.southSales));
    bench.sandbox.removeMember(sampleUserids.southSales);
    assert.equal(await dt.upstream.recheck!(identity), 'revoked');

    const external = person(sampleUserids.externalContact);
    const externalIdentity = {
      ...identity,
      subject: external.unionId,
      linkKey: external.unionId,
      connectorData: JSON.stringify({ unionId: external.unionId }),
    };
    assert.equal(await dt.upstream.recheck!(externalIdentity), 'revoked');

    const member = identityOf(await dt.signIn(sampleUserids.manager));
    bench.sandbox.setFault({ api: '/topapi/v2/user/get', kind: 'errcode', errcode: 33012, times: 1 });
    assert.equal(await dt.upstream.recheck!(member), 'revoked');
  });

  it('linked by userid: a unionId whose userid drifted is a new membership, so the old account is revoked', async () => {
    const byUserid = bench.add({ linkKey: 'userid' });
    const identity = identityOf(await byUserid.signIn(sampleUserids.marketingHead));
    const stored = JSON.parse(identity.connectorData!) as Record<string, unknown>;
    assert.equal(stored.userid, sampleUserids.marketingHead);
    assert.notEqual(await byUserid.upstream.recheck!(identity), 'revoked', 'the same userid is still this account');
    // The organisation now answers another userid for the same unionId than the one the account was linked by.
    const drifted = { ...identity, connectorData: JSON.stringify({ ...stored, userid: 'manager-before-reimport' }) };
    assert.equal(await byUserid.upstream.recheck!(drifted), 'revoked');
    // Linked by unionId (the default), the userid is only a profile field: the same drift changes nothing.
    const byUnionId = identityOf(await dt.signIn(sampleUserids.marketingHead));
    const unionStored = JSON.parse(byUnionId.connectorData!) as Record<string, unknown>;
    const fresh = await dt.upstream.recheck!({
      ...byUnionId,
      connectorData: JSON.stringify({ ...unionStored, userid: 'manager-before-reimport' }),
    });
    assert.notEqual(fresh, 'revoked');
  });

  it('throws unavailable when DingTalk cannot answer', async () => {
    const identity = identityOf(await dt.signIn(sampleUserids.manager));
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'http', status: 502, body: { message: 'bad gateway' } });
    await assert.rejects(dt.upstream.recheck!(identity), (err: unknown) => err instanceof UpstreamError && err.reason === 'unavailable');
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: 90018 });
    await assert.rejects(dt.upstream.recheck!(identity), (err: unknown) => err instanceof UpstreamError && err.reason === 'unavailable');
  });
});

describe('dingtalk upstream: mapping helpers', () => {
  it('phone numbers become E.164 from state_code and mobile', () => {
    assert.equal(phoneOf('86', '13800000001'), '+8613800000001');
    assert.equal(phoneOf('+852', '9123 4567'), '+85291234567');
    assert.equal(phoneOf('1', '4155550100'), '+14155550100');
    assert.equal(phoneOf(undefined, '13800000001'), '+8613800000001');
    assert.equal(phoneOf('86', '+8613800000001'), '+8613800000001');
    assert.equal(phoneOf('86', 'not a number'), undefined);
    assert.equal(phoneOf('86', undefined), undefined);
  });

  it('reads the IP out of a 60020 message', () => {
    assert.equal(
      requestIpOf(
        '访问ip不在白名单之中，请参考FAQ：https://open.dingtalk.com/document/org-faq/app-faq,request ip=120.230.136.230 appKey(dingmf6x)',
      ),
      '120.230.136.230',
    );
    assert.equal(requestIpOf('no ip here'), undefined);
  });

  describe('department groups', () => {
    const names: Record<number, { name: string; parentId?: number }> = {
      1: { name: 'root' },
      4: { name: '研发/测试', parentId: 1 },
      5: { name: '平台', parentId: 4 },
      7: { name: '已删除', parentId: 1 },
    };
    function fakeOrg(chains: number[][]): OrgApi {
      return {
        byUnionId: async () => {
          throw new Error('unused');
        },
        user: async () => {
          throw new Error('unused');
        },
        inAppUser: async () => {
          throw new Error('unused');
        },
        parentChains: async () => chains,
        async department(id) {
          if (id === 7) throw new DingTalkCallError('/topapi/v2/department/get', 200, '60003', '部门不存在');
          return names[id]!;
        },
      };
    }
    const path = { source: 'departments', format: 'path', ancestors: true } as const;

    it('a "/" inside a department name cannot forge a deeper path', async () => {
      const store = openMemoryStore();
      const departments = createDepartments({ org: fakeOrg([[5, 4, 1]]), store, scope: 'corp' });
      assert.deepEqual(await departments.groupsOf('u', [5], path), ['研发／测试/平台', '研发／测试']);
      await store.close();
    });

    it('skips a department deleted meanwhile, and walks parents when listparentbyuser gives nothing', async () => {
      const store = openMemoryStore();
      assert.deepEqual(
        await createDepartments({
          org: fakeOrg([
            [7, 1],
            [5, 4, 1],
          ]),
          store,
          scope: 'c',
        }).groupsOf('u', [7, 5], path),
        ['研发／测试/平台', '研发／测试'],
      );
      assert.deepEqual(await createDepartments({ org: fakeOrg([]), store, scope: 'c' }).groupsOf('u', [5], path), [
        '研发／测试/平台',
        '研发／测试',
      ]);
      assert.deepEqual(
        await createDepartments({ org: fakeOrg([[1]]), store, scope: 'c' }).groupsOf('u', [1], path),
        [],
        'the root is no group',
      );
      await store.close();
    });
  });
});
