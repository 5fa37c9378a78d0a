import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_RESERVED_USERNAMES } from '../../src/config/schema.js';
import { UsernameConfigError } from '../../src/accounts/errors.js';
import { subjectFor } from '../../src/accounts/subject.js';
import {
  usernameCandidates,
  hashUsername,
  isValidUsername,
  normaliseUsername,
  pinyinOf,
  suffixedUsername,
  usernamePolicy,
  usernameProblem,
} from '../../src/accounts/usernames.js';
import type { UsernameHint } from '../../src/upstreams/types.js';
import { CORP, dingtalkIdentity, usernamesConfig } from './fixtures.js';

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const anyText = fc.string({ unit: 'binary', maxLength: 60 });
const anyHint = fc.record({
  source: fc.constantFrom<UsernameHint['source']>('orgEmail', 'email', 'pinyin', 'jobNumber', 'userid'),
  value: fc.oneof(anyText, fc.string({ unit: 'grapheme', maxLength: 40 }), fc.emailAddress()),
});
const anyCandidates = fc.uniqueArray(fc.constantFrom('orgEmail', 'email', 'pinyin', 'jobNumber', 'userid', 'hash' as const), {
  minLength: 1,
});

describe('usernames: any input gives a valid, stable, unreserved name', () => {
  it('normaliseUsername yields nothing or a lowercase DNS-1123 name of at most 32', () => {
    fc.assert(
      fc.property(anyText, (raw) => {
        const name = normaliseUsername(raw);
        if (name !== undefined) {
          assert.ok(name.length <= 32, name);
          assert.match(name, DNS1123);
          assert.equal(normaliseUsername(raw), name);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('usernameCandidates always offers a valid, unreserved name, the same for the same input', () => {
    const reserved = ['ops', 'zhangwei'];
    fc.assert(
      fc.property(anyText, fc.option(anyText), fc.array(anyHint, { maxLength: 5 }), anyCandidates, (key, name, hints, candidates) => {
        const policy = usernamePolicy(usernamesConfig({ candidates, reserved }));
        const identity = dingtalkIdentity(key, { hints, ...(name === null ? {} : { name }) });
        const sub = subjectFor(identity.linkDomain, identity.linkKey);
        const { names, suffixBase } = usernameCandidates(identity, sub, policy);
        assert.ok(names.length > 0 || suffixBase !== '');
        for (const n of [...names, suffixBase]) {
          assert.ok(isValidUsername(n), n);
          assert.ok(![...DEFAULT_RESERVED_USERNAMES, ...reserved].includes(n), n);
        }
        assert.equal(new Set(names).size, names.length);
        assert.deepEqual(usernameCandidates(structuredClone(identity), sub, policy), { names, suffixBase });
      }),
      { numRuns: 500 },
    );
  });

  it('suffixed names stay valid and at most 32', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 2, max: 100_000 }), (raw, n) => {
        const base = normaliseUsername(raw) ?? 'x';
        const name = suffixedUsername(base, n);
        assert.ok(isValidUsername(name), name);
        assert.ok(name.endsWith(String(n)));
      }),
      { numRuns: 500 },
    );
  });
});

const names = (...args: Parameters<typeof usernameCandidates>) => usernameCandidates(...args).names;

describe('usernames: sources', () => {
  const policy = usernamePolicy(usernamesConfig());

  it('pinyin: surname first, joined, without tones', () => {
    assert.equal(pinyinOf('张伟'), 'zhangwei');
    assert.equal(pinyinOf('曾小贤'), 'zengxiaoxian'); // surname reading: zeng, not ceng
    assert.equal(pinyinOf('吕芳'), 'lvfang'); // ü is written v in ASCII names
    assert.equal(pinyinOf('José Müller'), 'josemuller');
  });

  it('computes pinyin from the name when the upstream gave no pinyin hint', () => {
    const identity = dingtalkIdentity('u1', { name: '张伟' });
    assert.deepEqual(names(identity, 'sub1', usernamePolicy(usernamesConfig({ candidates: ['pinyin'] }))), ['zhangwei']);
  });

  it('follows the configured order and takes the email local part', () => {
    const identity = dingtalkIdentity('u1', {
      name: '王芳',
      hints: [
        { source: 'userid', value: 'manager4220' },
        { source: 'jobNumber', value: '1001' },
        { source: 'orgEmail', value: 'Fang.Wang@corp.example' },
      ],
    });
    const sub = subjectFor(CORP, 'u1');
    assert.deepEqual(names(identity, sub, policy), ['fang.wang', 'wangfang', '1001', 'manager4220', hashUsername(sub)]);
    const reordered = usernamePolicy(usernamesConfig({ candidates: ['userid', 'pinyin'] }));
    assert.deepEqual(names(identity, sub, reordered), ['manager4220', 'wangfang']);
  });

  it('never gives the admin@ person "admin"', () => {
    const identity = dingtalkIdentity('u1', { name: '李雷', hints: [{ source: 'orgEmail', value: 'admin@corp.example' }] });
    const offered = names(identity, 'sub', policy);
    assert.ok(!offered.includes('admin'));
    assert.equal(offered[0], 'lilei');
  });

  it('honours reserved additions from config, case-insensitively', () => {
    const identity = dingtalkIdentity('u1', { hints: [{ source: 'orgEmail', value: 'ops@corp.example' }] });
    const offered = names(identity, 'sub', usernamePolicy(usernamesConfig({ reserved: ['OPS'] })));
    assert.ok(!offered.includes('ops'));
  });

  it('falls back to the hash when no configured source yields a name', () => {
    const identity = dingtalkIdentity('u1', { name: '🙂' });
    const sub = subjectFor(CORP, 'u1');
    assert.deepEqual(names(identity, sub, usernamePolicy(usernamesConfig({ candidates: ['pinyin', 'orgEmail'] }))), [hashUsername(sub)]);
    assert.match(hashUsername(sub), /^u-[a-z2-7]{8}$/);
  });

  it('suffixes readably: wangfang2, and 1001-2 after digits', () => {
    assert.equal(suffixedUsername('wangfang', 2), 'wangfang2');
    assert.equal(suffixedUsername('1001', 2), '1001-2');
    assert.equal(suffixedUsername('a'.repeat(32), 12), `${'a'.repeat(30)}12`);
  });
});

describe('usernames: pins', () => {
  const pins = { [`${CORP}:userid:manager4220`]: 'zhangwei', [`${CORP}:jobNumber:007`]: 'bond' };

  it('a pinned name is offered only to its person', () => {
    const policy = usernamePolicy(usernamesConfig({ pins }));
    const pinned = dingtalkIdentity('u1', { name: '张伟', userid: 'manager4220' });
    const other = dingtalkIdentity('u2', { name: '张伟', userid: 'dev1' });
    assert.equal(usernameProblem('zhangwei', policy, pinned), undefined);
    assert.match(usernameProblem('zhangwei', policy, other)!, /pinned/);
    assert.ok(!names(other, 'sub2', policy).includes('zhangwei'));
    // Their namesake, with only the name to go on, is suffixed from the pinned name, not hashed.
    const onlyPinyin = usernamePolicy(usernamesConfig({ pins, candidates: ['pinyin'] }));
    assert.deepEqual(usernameCandidates(other, 'sub2', onlyPinyin), { names: [], suffixBase: 'zhangwei' });
    const bond = dingtalkIdentity('u3', { extra: { job_number: '007' } });
    assert.equal(usernameProblem('bond', policy, bond), undefined);
    // The link domain must match whole: another organisation's person with the same userid is someone else.
    assert.match(usernameProblem('bond', policy, { ...bond, linkDomain: 'https://idaas.example' })!, /pinned/);
    const otherTenant = { ...pinned, linkDomain: 'dingtalk:ding-other-org' };
    assert.match(usernameProblem('zhangwei', policy, otherTenant)!, /pinned/);
    assert.ok(!names(otherTenant, 'sub4', policy).includes('zhangwei'));
    const permissive = { ...pinned, linkDomain: `dingtalk-any:${CORP.slice('dingtalk:'.length)}` };
    assert.match(usernameProblem('zhangwei', policy, permissive)!, /pinned/, 'nor the same person through a permissive upstream');
  });

  it('rejects pins that cannot work, naming the key', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { [`${CORP}:email:a@b.c`]: 'abc' },
        /usernames\.pins\["dingtalk:ding0123456789:email:a@b\.c"\].*expected <linkDomain>:<attribute>:<value>/,
      ],
      [{ [`${CORP}:userid:x`]: 'Not_Valid' }, /not a valid username/],
      [{ [`${CORP}:userid:x`]: 'root' }, /reserved/],
      [{ [`${CORP}:userid:x`]: 'same', [`${CORP}:unionId:y`]: 'same' }, /pinned twice/],
      // The form documented before pins named the tenant matches every organisation: an error naming the new form.
      [{ 'dingtalk:userid:manager4220': 'zhangwei' }, /matches every tenant.*"dingtalk:<tenant>:userid:manager4220"/],
    ];
    for (const [bad, message] of cases) {
      assert.throws(
        () => usernamePolicy(usernamesConfig({ pins: bad })),
        (err: unknown) => err instanceof UsernameConfigError && message.test(err.message),
      );
    }
  });
});
