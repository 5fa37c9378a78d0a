// Start-up work (OIDC discovery) is kept while it succeeds, retried after a failure, and, with a
// maximum age, done again once that age has passed: a moved endpoint or rotated key set is picked up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoizeUntilSuccess } from '../../src/upstreams/memoize-until-success.js';

describe('memoizeUntilSuccess', () => {
  it('shares one attempt, retries after a failure, and keeps a success', async () => {
    let calls = 0;
    const work = memoizeUntilSuccess(async () => {
      calls += 1;
      if (calls === 1) throw new Error('down');
      return calls;
    });
    const [a, b] = await Promise.allSettled([work(), work()]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status, 'rejected', 'concurrent callers share the failed attempt');
    assert.equal(await work(), 2, 'retried after the failure');
    assert.equal(await work(), 2, 'kept once it succeeded');
    assert.equal(calls, 2);
  });

  it('runs the work again once a success is older than maxAgeMs', async () => {
    let clock = 0;
    let calls = 0;
    const work = memoizeUntilSuccess(
      async () => (calls += 1),
      60_000,
      () => clock,
    );
    assert.equal(await work(), 1);
    clock = 59_999;
    assert.equal(await work(), 1, 'still fresh');
    clock = 60_000;
    assert.equal(await work(), 2, 'expired: done again');
    assert.equal(await work(), 2);
  });
});
