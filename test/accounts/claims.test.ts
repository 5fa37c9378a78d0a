import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { claimsFor, shapeGroups } from '../../src/accounts/claims.js';
import { subjectFor } from '../../src/accounts/subject.js';
import type { Account, ClaimPolicy } from '../../src/accounts/types.js';
import type { UpstreamIdentity } from '../../src/upstreams/types.js';
import { CORP, dingtalkIdentity } from './fixtures.js';

function account(profile: Partial<UpstreamIdentity> = {}): Account {
  const identity = { ...dingtalkIdentity('union-1', { name: '张伟' }), ...profile };
  return {
    schemaVersion: 1,
    sub: subjectFor(CORP, 'union-1'),
    linkDomain: CORP,
    linkKey: 'union-1',
    username: 'zhangwei',
    status: 'active',
    upstream: 'dingtalk',
    profile: identity,
    createdAt: 1,
    updatedAt: 2,
    checkedAt: 3,
  };
}

const verified: ClaimPolicy = { emitEmail: 'verified' };

describe('claimsFor', () => {
  it('emits the profile, phone, groups and dingtalk claims, never connectorData', () => {
    const claims = claimsFor(
      account({
        picture: 'https://static.example/a.png',
        locale: 'zh-CN',
        phoneNumber: '+8613800000000',
        phoneNumberVerified: true,
        groups: ['研发中心', '研发中心/平台组'],
        connectorData: 'userid=manager4220;refresh=abc',
        extra: {
          dingtalk_userid: 'manager4220',
          dingtalk_unionid: 'union-1',
          dingtalk_corp_id: 'ding0123456789',
          job_number: 1001,
          title: '工程师',
          other: 'x',
        },
      }),
      verified,
    );
    assert.deepEqual(claims, {
      sub: subjectFor(CORP, 'union-1'),
      preferred_username: 'zhangwei',
      name: '张伟',
      picture: 'https://static.example/a.png',
      locale: 'zh-CN',
      phone_number: '+8613800000000',
      phone_number_verified: true,
      groups: ['dingtalk:研发中心', 'dingtalk:研发中心/平台组'],
      dingtalk_userid: 'manager4220',
      dingtalk_unionid: 'union-1',
      dingtalk_corp_id: 'ding0123456789',
      job_number: '1001',
      title: '工程师',
    });
    assert.ok(!JSON.stringify(claims).includes('refresh=abc'));
  });

  it('marks a phone number verified only when the upstream verified it', () => {
    assert.equal(claimsFor(account({ phoneNumber: '+8613800000000' }), verified).phone_number_verified, false);
    assert.equal(claimsFor(account({ phoneNumber: '+8613800000000', phoneNumberVerified: false }), verified).phone_number_verified, false);
    assert.equal('phone_number' in claimsFor(account(), verified), false);
  });

  describe('email follows the client emitEmail policy', () => {
    const org = account({ email: 'zw@corp.example', emailVerified: true });
    const adminEntered = account({ email: 'zw@personal.example', emailVerified: false });
    const none = account();
    const pick = (a: Account, emitEmail: ClaimPolicy['emitEmail']) => {
      const { email, email_verified } = claimsFor(a, { emitEmail });
      return email === undefined && email_verified === undefined ? undefined : { email, email_verified };
    };

    it('verified: only an email the upstream verified', () => {
      assert.deepEqual(pick(org, 'verified'), { email: 'zw@corp.example', email_verified: true });
      assert.equal(pick(adminEntered, 'verified'), undefined);
      assert.equal(pick(none, 'verified'), undefined);
    });

    it('any: unverified ones too, marked email_verified false', () => {
      assert.deepEqual(pick(org, 'any'), { email: 'zw@corp.example', email_verified: true });
      assert.deepEqual(pick(adminEntered, 'any'), { email: 'zw@personal.example', email_verified: false });
      assert.deepEqual(pick(account({ email: 'x@corp.example' }), 'any'), { email: 'x@corp.example', email_verified: false });
      assert.equal(pick(none, 'any'), undefined);
    });

    it('never: no email at all', () => {
      assert.equal(pick(org, 'never'), undefined);
    });

    it('drops an address that is not one', () => {
      assert.equal(pick(account({ email: 'not an email', emailVerified: true }), 'any'), undefined);
    });
  });
});

describe('groups policy', () => {
  const groups = ['研发中心', '研发中心/平台组', '市场部', 'ops'];

  it("emits every group, in its upstream's namespace, when the client has no policy", () => {
    assert.deepEqual(
      claimsFor(account({ groups }), verified).groups,
      groups.map((g) => `dingtalk:${g}`),
    );
    assert.deepEqual(claimsFor(account({ groups: [] }), verified).groups, []);
  });

  it('namespaces groups per upstream: a self-named group of another upstream never looks like a DingTalk one', () => {
    const dingtalk = account({ groups: ['研发中心/平台组'] });
    const oidc = { ...account({ groups: ['dingtalk:研发中心/平台组', 'ops'] }), upstream: 'eiam' };
    assert.deepEqual(claimsFor(dingtalk, verified).groups, ['dingtalk:研发中心/平台组']);
    assert.deepEqual(claimsFor(oidc, verified).groups, ['eiam:dingtalk:研发中心/平台组', 'eiam:ops']);
    // The configured groupsPrefix of the account's upstream.
    const prefixes = (id: string) => (id === 'eiam' ? 'idaas/' : `${id}:`);
    assert.deepEqual(claimsFor(oidc, verified, prefixes).groups, ['idaas/dingtalk:研发中心/平台组', 'idaas/ops']);
    // allow matches the group as its upstream gave it; the namespace, then the client prefix, go before it.
    const policy = { emitEmail: 'never' as const, groups: { prefix: 'k8s-', allow: ['研发中心*', 'dingtalk:*'], max: 10 } };
    assert.deepEqual(claimsFor(dingtalk, policy).groups, ['k8s-dingtalk:研发中心/平台组']);
    assert.deepEqual(claimsFor(oidc, policy).groups, ['k8s-eiam:dingtalk:研发中心/平台组'], 'still in its own namespace');
  });

  it('always drops system: groups, as the upstream gave them and as emitted', () => {
    const hostile = account({ groups: ['system:masters', 'System:Masters', 'ops'] });
    assert.deepEqual(claimsFor(hostile, verified).groups, ['dingtalk:ops']);
    assert.deepEqual(claimsFor(hostile, verified, () => '').groups, ['ops'], 'also without a namespace');
    assert.deepEqual(shapeGroups(['masters'], { prefix: 'system:', max: 5 }), [], 'a client prefix cannot make one');
    assert.deepEqual(shapeGroups(['masters', 'ops'], undefined, 'system:'), [], 'nor an upstream prefix');
  });

  it('matches allow before prefixing (exact or trailing *), then prefixes, then caps', () => {
    assert.deepEqual(shapeGroups(groups, { prefix: 'dingtalk:', allow: ['研发中心*', 'ops'], max: 50 }), [
      'dingtalk:研发中心',
      'dingtalk:研发中心/平台组',
      'dingtalk:ops',
    ]);
    assert.deepEqual(
      shapeGroups(groups, { prefix: 'dingtalk:', allow: ['dingtalk:ops'], max: 50 }),
      [],
      'allow never sees the client prefix',
    );
    assert.deepEqual(shapeGroups(groups, { prefix: 'dingtalk:', allow: ['研发中心'], max: 50 }), ['dingtalk:研发中心'], 'no * means exact');
    assert.deepEqual(shapeGroups(groups, { prefix: '', max: 2 }), ['研发中心', '研发中心/平台组']);
    assert.deepEqual(claimsFor(account({ groups }), { emitEmail: 'never', groups: { prefix: 'dt:', max: 1 } }).groups, [
      'dt:dingtalk:研发中心',
    ]);
  });

  it('never emits more than max, and every emitted group carries the prefix and passed allow', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 8 }), { maxLength: 30 }),
        fc.string({ maxLength: 4 }),
        fc.option(fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 })),
        fc.integer({ min: 1, max: 10 }),
        (input, prefix, allow, max) => {
          const out = shapeGroups(input, { prefix, ...(allow === null ? {} : { allow }), max });
          assert.ok(out.length <= max);
          assert.equal(new Set(out).size, out.length);
          for (const g of out) {
            assert.ok(g.startsWith(prefix));
            assert.ok(input.includes(g.slice(prefix.length)));
          }
        },
      ),
    );
  });
});
