import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { openMemoryStore } from '../../src/store/memory.js';

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('memory store specifics', () => {
  it('keeps far more than 2000 live entries (no LRU eviction)', async () => {
    const store = openMemoryStore();
    const sessions = store.model('Session');
    const ids = Array.from({ length: 2500 }, (_, i) => `s${i}`);
    for (const sid of ids) await sessions.upsert(sid, { uid: `u-${sid}`, accountId: 'a' }, 3600);
    for (const sid of ids) assert.ok(await sessions.find(sid), `${sid} was evicted`);
    assert.ok(await sessions.findByUid('u-s0'));
    await store.close();
  });

  it('purges an expired entry when it is read', async () => {
    const clock = fakeClock();
    const store = openMemoryStore({ now: clock.now });
    await store.model('AccessToken').upsert('t1', { grantId: 'g' }, 10);
    await store.ephemeral.set('k', 'v', 10);
    const held = store.size();
    clock.advance(9_999);
    assert.ok(await store.model('AccessToken').find('t1'));
    clock.advance(1);
    assert.equal(await store.model('AccessToken').find('t1'), undefined);
    assert.equal(await store.ephemeral.get('k'), undefined);
    assert.equal(store.size(), held - 2);
    await store.close();
  });

  it('sweep() purges every expired entry (indexes included) and keeps the live ones', async () => {
    const clock = fakeClock();
    const store = openMemoryStore({ now: clock.now });
    for (let i = 0; i < 100; i += 1) {
      await store.model('Grant').upsert(`g${i}`, { accountId: `acc${i}` }, 60);
      await store.ephemeral.set(`state:${i}`, { i }, 60);
    }
    for (let i = 0; i < 10; i += 1) await store.durable.set(`account:${i}`, { i });
    clock.advance(61_000);
    const purged = store.sweep();
    assert.equal(purged, 300, 'grants, their account indexes and the ephemeral records');
    assert.equal(store.size(), 10);
    assert.deepEqual((await store.durable.keys('account:')).length, 10);
    await store.close();
  });

  it("an account's index follows its members' expiry, also when a member's lifetime is shortened", async () => {
    const clock = fakeClock();
    const store = openMemoryStore({ now: clock.now });
    const grants = store.model('Grant');
    await grants.upsert('g1', { accountId: 'acc' }, 100);
    await grants.upsert('g2', { accountId: 'acc' }, 200);
    await grants.upsert('g1', { accountId: 'acc' }, 50);
    clock.advance(60_000);
    assert.deepEqual(await store.accountsWithGrants(), ['acc'], 'g2 still lives');
    await grants.upsert('g3', { accountId: 'other' }, 10);
    clock.advance(150_000);
    assert.deepEqual(await store.accountsWithGrants(), [], 'every member has expired, the index with them');
    store.sweep();
    assert.equal(store.size(), 0, 'nothing left behind');
    await store.close();
  });

  it('sweeps periodically on its own timer, which close() stops', async () => {
    const clock = fakeClock();
    const sweeps: number[] = [];
    let notify: (() => void) | undefined;
    const store = openMemoryStore({
      now: clock.now,
      sweepIntervalMs: 5,
      onSweep: (purged) => {
        sweeps.push(purged);
        notify?.();
      },
    });
    await store.ephemeral.set('gone', 1, 1);
    clock.advance(2_000);
    // The sweep timer is unref'd (it must not keep a process alive): this guard keeps the loop
    // running meanwhile, and fails the test if no sweep comes.
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('no periodic sweep within 2 s')), 2000);
      notify = () => sweeps.includes(1) && (clearTimeout(guard), resolve());
    });
    assert.equal(store.size(), 0);
    await store.close();
    const count = sweeps.length;
    await delay(30); // several intervals: none may fire after close
    assert.equal(sweeps.length, count);
  });

  it('is always up', async () => {
    const store = openMemoryStore();
    assert.equal(store.kind, 'memory');
    assert.equal(store.health(), 'up');
    await store.ping();
    await store.close();
  });
});
