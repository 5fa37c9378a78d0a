import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { claimString, mapIdentity, readClaim, type IdentityMapping } from '../../src/upstreams/claims.js';
import { toE164 } from '../../src/upstreams/phone-number.js';
import { UpstreamError } from '../../src/upstreams/types.js';

const idaasMapping: IdentityMapping = {
  upstream: 'idaas',
  linkDomain: 'oauth2:example.login.aliyunidaas.com',
  claims: { subject: 'data.sub', name: 'data.nickname', email: 'data.email', username: 'data.username', phoneNumber: 'data.phone_number' },
  emailVerifiedDefault: false,
};

function refusal(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('readClaim', () => {
  it('follows dotted paths into objects and arrays', () => {
    const source = { data: { sub: 'a', list: [{ id: 7 }] } };
    assert.equal(readClaim(source, 'data.sub'), 'a');
    assert.equal(readClaim(source, 'data.list.0.id'), 7);
    assert.equal(readClaim(source, 'data.missing.deeper'), undefined);
  });

  it('matches a key containing dots whole before splitting it', () => {
    assert.deepEqual(readClaim({ 'https://example.test/roles': ['r'] }, 'https://example.test/roles'), ['r']);
  });

  it('never reads inherited properties', () => {
    assert.equal(readClaim({}, 'constructor'), undefined);
    assert.equal(readClaim({ data: {} }, 'data.toString'), undefined);
    assert.equal(readClaim({ data: {} }, '__proto__'), undefined);
  });
});

describe('claimString', () => {
  it('stringifies finite numbers and trims strings', () => {
    fc.assert(fc.property(fc.integer(), (n) => claimString(n) === String(n)));
    assert.equal(claimString('  x '), 'x');
    assert.equal(claimString('   '), undefined);
    assert.equal(claimString(Number.NaN), undefined);
    assert.equal(claimString(true), undefined);
    assert.equal(claimString({ a: 1 }), undefined);
  });
});

describe('mapIdentity', () => {
  it('maps the wrapped IDaaS userinfo, numeric sub stringified', () => {
    const identity = mapIdentity(
      { success: true, data: { sub: 42, nickname: '张伟', email: 'zw@example.test', username: 'zhangwei', phone_number: '138-0000-0000' } },
      idaasMapping,
    );
    assert.deepEqual(identity, {
      upstream: 'idaas',
      subject: '42',
      linkDomain: 'oauth2:example.login.aliyunidaas.com',
      linkKey: '42',
      name: '张伟',
      email: 'zw@example.test',
      emailVerified: false,
      phoneNumber: '+8613800000000',
      picture: undefined,
      usernameHints: [
        { source: 'email', value: 'zw@example.test' },
        { source: 'userid', value: 'zhangwei' },
      ],
      groups: [],
      extra: {},
    });
  });

  it('refuses an identity without subject', () => {
    for (const data of [{}, { sub: '' }, { sub: null }, { sub: { id: 1 } }, { sub: true }]) {
      const err = refusal(() => mapIdentity({ data }, idaasMapping));
      assert.equal(err.reason, 'failed');
      assert.match(err.message, /identity without subject refused/);
    }
  });

  it('refuses an over-long subject (OIDC Core: at most 255 characters)', () => {
    assert.equal(refusal(() => mapIdentity({ data: { sub: 'x'.repeat(256) } }, idaasMapping)).detail.code, 'bad_subject');
  });

  it('uses a mapped linkKey and refuses when it is missing', () => {
    const mapping = { ...idaasMapping, claims: { ...idaasMapping.claims, linkKey: 'data.ou_id' } };
    assert.equal(mapIdentity({ data: { sub: 1, ou_id: 'ou-9' } }, mapping).linkKey, 'ou-9');
    assert.equal(refusal(() => mapIdentity({ data: { sub: 1 } }, mapping)).detail.code, 'no_link_key');
  });

  it('takes emailVerified from its path, "true" strings included, and only then offers orgEmail', () => {
    const mapping = { ...idaasMapping, claims: { subject: 'sub', email: 'email', emailVerified: 'email_verified' } };
    const verified = mapIdentity({ sub: 's', email: 'a@example.test', email_verified: 'true' }, mapping);
    assert.equal(verified.emailVerified, true);
    assert.deepEqual(
      verified.usernameHints.map((h) => h.source),
      ['orgEmail', 'email'],
    );
    const unverified = mapIdentity({ sub: 's', email: 'a@example.test', email_verified: false }, mapping);
    assert.equal(unverified.emailVerified, false);
    assert.deepEqual(
      unverified.usernameHints.map((h) => h.source),
      ['email'],
    );
    assert.equal(mapIdentity({ sub: 's', email: 'a@example.test' }, mapping).emailVerified, false);
  });

  it('uses the emailVerified default (trustEmail) when the upstream says nothing, and never without an email', () => {
    const trusting = { ...idaasMapping, emailVerifiedDefault: true };
    assert.equal(mapIdentity({ data: { sub: 1, email: 'a@example.test' } }, trusting).emailVerified, true);
    assert.equal(mapIdentity({ data: { sub: 1 } }, trusting).emailVerified, undefined);
    const mapped = { ...trusting, claims: { subject: 'sub', email: 'email', emailVerified: 'email_verified' } };
    assert.equal(mapIdentity({ sub: 's', email: 'a@example.test' }, mapped).emailVerified, true, 'absent claim: the default');
    assert.equal(
      mapIdentity({ sub: 's', email: 'a@example.test', email_verified: false }, mapped).emailVerified,
      false,
      'an explicit false wins',
    );
  });

  it('drops malformed emails, pictures and phone numbers', () => {
    const mapping = { ...idaasMapping, claims: { subject: 'sub', email: 'email', picture: 'picture', phoneNumber: 'phone' } };
    const identity = mapIdentity({ sub: 's', email: 'not-an-email', picture: 'javascript:alert(1)', phone: '12' }, mapping);
    assert.equal(identity.email, undefined);
    assert.equal(identity.picture, undefined);
    assert.equal(identity.phoneNumber, undefined);
    assert.equal(mapIdentity({ sub: 's', picture: 'https://x.test/p.png' }, mapping).picture, 'https://x.test/p.png');
  });

  it('accepts groups as a string or an array, dropping non-scalars and duplicates', () => {
    const mapping = { ...idaasMapping, claims: { subject: 'sub', groups: 'groups' } };
    assert.deepEqual(mapIdentity({ sub: 's', groups: 'ops' }, mapping).groups, ['ops']);
    assert.deepEqual(mapIdentity({ sub: 's', groups: ['a', 7, { x: 1 }, 'a', null] }, mapping).groups, ['a', '7']);
    assert.deepEqual(mapIdentity({ sub: 's' }, mapping).groups, []);
  });
});

describe('toE164', () => {
  it('normalises the forms upstreams send', () => {
    assert.equal(toE164('+86 138 0000 0000'), '+8613800000000');
    assert.equal(toE164('+86-13800000000'), '+8613800000000');
    assert.equal(toE164('86-13800000000'), '+8613800000000');
    assert.equal(toE164('0086 13800000000'), '+8613800000000');
    assert.equal(toE164('13800000000'), '+8613800000000');
    assert.equal(toE164(13800000000), '+8613800000000');
    assert.equal(toE164('+1 (415) 555-0100'), '+14155550100');
  });

  it('drops what it cannot make E.164', () => {
    for (const raw of ['12345', '010-12345678', 'abc', '', '+0123456789', undefined, null, {}]) assert.equal(toE164(raw), undefined);
  });

  it('yields only E.164 or nothing', () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const result = toE164(raw);
        return result === undefined || /^\+[1-9]\d{6,14}$/.test(result);
      }),
    );
  });
});
