import { after, before, describe } from 'node:test';
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { LOCAL_REDIS_URL, cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { adapterSuite } from './adapter-suite.js';

/** Resolves once the store reports 'up' (Redis stores start 'down' until connected). */
function whenUp(store: Store): Promise<void> {
  return new Promise((resolve) => {
    if (store.health() === 'up') resolve();
    else store.onHealthChange((health) => health === 'up' && resolve());
  });
}

describe('memory store', () => {
  let store: Store;
  before(() => {
    store = openMemoryStore();
  });
  after(() => store.close());
  adapterSuite(() => store);
});

describe('redis store (standalone, 127.0.0.1:6379)', () => {
  const keyPrefix = testPrefix();
  let store: Store;
  before(async () => {
    store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix });
    await whenUp(store);
  });
  after(async () => {
    await store.close();
    await cleanupPrefix(keyPrefix);
  });
  adapterSuite(() => store);
});

describe('redis store (3-node cluster)', () => {
  let cluster: RedisCluster;
  let store: Store;
  before(async () => {
    cluster = await startRedisCluster();
    store = openRedisStore({ keyPrefix: testPrefix(), cluster: { nodes: cluster.nodes } });
    await whenUp(store);
  });
  after(async () => {
    await store?.close();
    await cluster?.stop();
  });
  adapterSuite(() => store);
});
