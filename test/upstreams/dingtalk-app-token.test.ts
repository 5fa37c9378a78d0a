/**
 * The DingTalk app token is fetched once and shared through the store: by concurrent logins in one
 * process, and by replicas (two Redis connections with one key prefix against the real Redis).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SANDBOX_APP_KEY, sampleUserids } from '../../src/sandbox/index.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { cleanupPrefix, LOCAL_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startBench, type Bench, type Outcome } from './dingtalk-harness.js';

const TOKEN_PATH = '/v1.0/oauth2/accessToken';
const people = [sampleUserids.manager, sampleUserids.liNa, sampleUserids.noEmail, sampleUserids.wangFangMarketing];

function assertSignedIn(outcomes: Outcome[]): void {
  for (const o of outcomes) {
    assert.ifError(o.err);
    assert.ok(o.identity);
  }
}

describe('dingtalk app token', () => {
  let bench: Bench;
  const prefix = testPrefix('test:dingtalk');
  const stores: Store[] = [];
  const redisStore = () => {
    const store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
    stores.push(store);
    return store;
  };
  const tokenFetches = () => bench.sandbox.stats.calls[TOKEN_PATH] ?? 0;

  before(async () => {
    bench = await startBench();
  });
  after(async () => {
    await bench.close();
    await Promise.all(stores.map((s) => s.close()));
    await cleanupPrefix(prefix);
  });

  it('is fetched ONCE for many concurrent logins on two replicas sharing Redis', async () => {
    const replicaA = bench.add({}, { store: redisStore() });
    const replicaB = bench.add({}, { store: redisStore() });
    bench.sandbox.resetStats();
    const logins = Array.from({ length: 12 }, (_, i) => (i % 2 ? replicaA : replicaB).signIn(people[i % people.length]!));
    assertSignedIn(await Promise.all(logins));
    assert.equal(tokenFetches(), 1);
    assertSignedIn(await Promise.all([replicaA.signIn(sampleUserids.manager), replicaB.signIn(sampleUserids.liNa)]));
    assert.equal(tokenFetches(), 1, 'later logins use the cached token');
    const cached = await stores[1]!.ephemeral.get<{ token: string; expiresAt: number }>(`dingtalk:apptoken:${SANDBOX_APP_KEY}`);
    assert.ok(cached?.token);
    assert.ok(Math.abs(cached.expiresAt - (Date.now() + 7200_000)) < 60_000, 'expiresAt follows expireIn');
  });

  it('is fetched once for concurrent logins in one process', async () => {
    const dt = bench.add();
    bench.sandbox.resetStats();
    assertSignedIn(await Promise.all(people.map((userid) => dt.signIn(userid))));
    assert.equal(tokenFetches(), 1);
  });

  it('is renewed a little before DingTalk lets it expire', async () => {
    let clock = Date.now();
    const store = openMemoryStore({ now: () => clock });
    stores.push(store);
    const dt = bench.add({}, { store, now: () => clock });
    bench.sandbox.resetStats();
    assertSignedIn([await dt.signIn(sampleUserids.manager)]);
    clock += 6899_000;
    assertSignedIn([await dt.signIn(sampleUserids.manager)]);
    assert.equal(tokenFetches(), 1, 'still cached within expireIn minus the early-renewal margin');
    clock += 2_000;
    assertSignedIn([await dt.signIn(sampleUserids.manager)]);
    assert.equal(tokenFetches(), 2, 'fetched again before the 7200 s are up');
  });

  it('each process keeps its copy: the shared store is read once, not on every org lookup', async () => {
    // A key prefix of its own: the token the other tests cached is not there.
    const store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: `${prefix}own:` });
    stores.push(store);
    const dt = bench.add({}, { store });
    bench.sandbox.resetStats();
    assertSignedIn([await dt.signIn(sampleUserids.manager)]);
    assert.equal(tokenFetches(), 1);
    // Gone from the shared store (flushed, or another replica dropped it): this process still holds it.
    await store.ephemeral.delete(`dingtalk:apptoken:${SANDBOX_APP_KEY}`);
    assertSignedIn(await Promise.all(people.map((userid) => dt.signIn(userid))));
    assert.equal(tokenFetches(), 1, 'no new fetch while the local copy is good');
    assert.equal(await store.ephemeral.get(`dingtalk:apptoken:${SANDBOX_APP_KEY}`), undefined, 'and no store write either');
  });

  it('a replica that holds the fetch lock and never delivers does not block logins for long', async () => {
    const store = redisStore();
    await store.ephemeral.delete(`dingtalk:apptoken:${SANDBOX_APP_KEY}`);
    const stuck = await store.lock(`dingtalk:apptoken:${SANDBOX_APP_KEY}`, 60);
    assert.ok(stuck);
    const dt = bench.add({ timeoutMs: 200 }, { store: redisStore() });
    bench.sandbox.resetStats();
    const started = Date.now();
    assertSignedIn([await dt.signIn(sampleUserids.manager)]);
    assert.ok(Date.now() - started < 5000);
    assert.equal(tokenFetches(), 1);
    await stuck.release();
  });
});
