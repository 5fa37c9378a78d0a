import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openRedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError, type Store, type StoreHealth } from '../../src/store/types.js';
import { startRedisServer, testPrefix, type RedisServer } from '../helpers/redis.js';

/** Resolves when the store reports `wanted` (at once if it already does). */
function health(store: Store, wanted: StoreHealth): Promise<void> {
  return new Promise((resolve) => {
    if (store.health() === wanted) resolve();
    store.onHealthChange((h) => h === wanted && resolve());
  });
}

/** Asserts that the call rejects with StoreUnavailableError within `withinMs`. */
async function failsFast(call: () => Promise<unknown>, withinMs = 2000): Promise<void> {
  const started = Date.now();
  await assert.rejects(call(), StoreUnavailableError);
  const took = Date.now() - started;
  assert.ok(took < withinMs, `took ${took} ms`);
}

describe('redis store during an outage', () => {
  let server: RedisServer;
  let store: Store;
  before(async () => {
    server = await startRedisServer();
    store = openRedisStore({ url: server.url, keyPrefix: testPrefix() });
    await health(store, 'up');
  });
  after(async () => {
    await store?.close();
    await server?.stop();
  });

  it('reports down and fails every call fast while Redis is gone, then recovers by itself', async () => {
    await store.ephemeral.set('before', 1, 60);
    const down = health(store, 'down');
    await server.stop();
    await down;
    assert.equal(store.health(), 'down');

    await failsFast(() => store.ephemeral.get('before'));
    await failsFast(() => store.ephemeral.set('x', 1, 60));
    await failsFast(() => store.ephemeral.take('x'));
    await failsFast(() => store.durable.keys());
    await failsFast(() => store.model('Session').upsert('s', { uid: 'u' }, 60));
    await failsFast(() => store.model('AuthorizationCode').consume('c'));
    await failsFast(() => store.model('AccessToken').revokeByGrantId('g'));
    await failsFast(() => store.revokeAccount('acc'));
    await failsFast(() => store.lock('job', 10));
    await failsFast(() => store.ping());

    const up = health(store, 'up');
    await server.restart();
    await up;
    await store.ping();
    await store.model('Session').upsert('s', { uid: 'u' }, 60);
    assert.deepEqual(await store.model('Session').findByUid('u'), { uid: 'u' });
  });

  it('fails fast when Redis is unreachable from the start, and comes up once it is started', async () => {
    await server.stop();
    const late = openRedisStore({ url: server.url, keyPrefix: testPrefix(), readyWaitMs: 300 });
    try {
      // Announced before any call fails, with the connection's error: an operator sees it at start.
      const announced = await new Promise<[StoreHealth, unknown]>((resolve) => late.onHealthChange((h, cause) => resolve([h, cause])));
      assert.equal(announced[0], 'down');
      assert.match(String((announced[1] as Error | undefined)?.message), /ECONNREFUSED/);
      await failsFast(() => late.ephemeral.get('x'), 1000);
      assert.equal(late.health(), 'down');
      const up = health(late, 'up');
      await server.restart();
      await up;
      await late.ephemeral.set('x', 'ok', 60);
      assert.equal(await late.ephemeral.get('x'), 'ok');
    } finally {
      await late.close();
    }
  });

  it('rejects calls on a closed store with StoreUnavailableError', async () => {
    const closed = openRedisStore({ url: server.url, keyPrefix: testPrefix() });
    await health(closed, 'up');
    await closed.close();
    await failsFast(() => closed.ping(), 500);
  });
});

describe('redis store with a hung server', () => {
  let server: RedisServer;
  let store: Store;
  before(async () => {
    server = await startRedisServer();
    store = openRedisStore({ url: server.url, keyPrefix: testPrefix(), commandTimeoutMs: 300 });
    await health(store, 'up');
  });
  after(async () => {
    server?.thaw();
    await store?.close();
    await server?.stop();
  });

  it('times a command out with StoreUnavailableError instead of hanging, and works once Redis answers again', async () => {
    server.freeze();
    await failsFast(() => store.ephemeral.get('x'), 1000);
    server.thaw();
    await store.ephemeral.set('x', 'back', 60);
    assert.equal(await store.ephemeral.get('x'), 'back');
  });
});
