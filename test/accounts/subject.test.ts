import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { base32, subjectFor } from '../../src/accounts/subject.js';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const anyText = fc.string({ unit: 'binary', maxLength: 80 });

describe('subjectFor', () => {
  it('is pinned forever: this value must never change', () => {
    assert.equal(
      subjectFor('dingtalk:ding0123456789', 'z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ'),
      'lb3eaeznfgq4232jaqtvcyeaa6sjxjw4rm42ldxtduy7vmu6zxbq',
    );
    assert.equal(subjectFor('', ''), 'dmvgckiztdlexxjdhsugzq7fkpfqq7r7pvdyrdd5ocjfp3tfgoja');
  });

  it('follows the documented algorithm (independent re-implementation)', () => {
    fc.assert(
      fc.property(anyText, anyText, (domain, key) => {
        const d = Buffer.from(domain, 'utf8');
        const k = Buffer.from(key, 'utf8');
        const len = (b: Buffer) => {
          const l = Buffer.alloc(4);
          l.writeUInt32BE(b.length);
          return l;
        };
        const digest = createHash('sha256')
          .update(Buffer.concat([Buffer.from('oidc-bridge:sub:v1\0'), len(d), d, len(k), k]))
          .digest();
        assert.equal(subjectFor(domain, key), base32(digest));
      }),
    );
  });

  it('keeps ("a:b", "c") and ("a", "b:c") apart', () => {
    assert.notEqual(subjectFor('a:b', 'c'), subjectFor('a', 'b:c'));
    assert.notEqual(subjectFor('ab', ''), subjectFor('a', 'b'));
  });

  it('gives distinct pairs distinct subs', () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, anyText, (d1, k1, d2, k2) => {
        fc.pre(d1 !== d2 || k1 !== k2);
        assert.notEqual(subjectFor(d1, k1), subjectFor(d2, k2));
      }),
      { numRuns: 500 },
    );
  });

  it('is always a Kubernetes label value of at most 63 characters, and stable', () => {
    fc.assert(
      fc.property(anyText, anyText, (domain, key) => {
        const sub = subjectFor(domain, key);
        assert.ok(sub.length <= 63 && sub.length > 0, sub);
        assert.match(sub, LABEL_VALUE);
        assert.equal(subjectFor(domain, key), sub);
      }),
      { numRuns: 500 },
    );
  });
});

describe('base32', () => {
  it('matches RFC 4648 test vectors (lowercase, unpadded)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [input, output] of vectors) assert.equal(base32(Buffer.from(input)), output);
  });
});
