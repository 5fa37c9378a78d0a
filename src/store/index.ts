import { openMemoryStore } from './memory.js';
import { openRedisStore, type RedisStoreOptions } from './redis.js';
import type { Store } from './types.js';

export type StoreOptions = { type: 'memory' } | ({ type: 'redis' } & RedisStoreOptions);

export function openStore(config: StoreOptions): Store {
  return config.type === 'memory' ? openMemoryStore() : openRedisStore(config);
}

export { openMemoryStore, type MemoryStore, type MemoryStoreOptions } from './memory.js';
export { openRedisStore, type RedisNode, type RedisStoreOptions } from './redis.js';
export * from './types.js';
