import type { Config } from '../config/schema.js';
import { openMemoryStore } from './memory.js';
import type { RedisStoreOptions } from './redis.js';
import type { Store } from './types.js';

export type StoreOptions = { type: 'memory' } | ({ type: 'redis' } & RedisStoreOptions);

/**
 * The configured store. The Redis backend (and ioredis with it) is loaded only when configured, so
 * a memory-store process does not carry it (bench/RESULTS.md, "Memory").
 */
export async function openStore(config: StoreOptions): Promise<Store> {
  if (config.type === 'memory') return openMemoryStore();
  const { openRedisStore } = await import('./redis.js');
  return openRedisStore(config);
}

/** config.store → the store module's options. */
export function storeOptionsOf(config: Config['store']): StoreOptions {
  if (config.type === 'memory') return { type: 'memory' };
  const hostPort = (s: string) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
  };
  return {
    type: 'redis',
    url: config.url,
    keyPrefix: config.keyPrefix,
    commandTimeoutMs: config.commandTimeoutMs,
    ...(config.sentinel
      ? { sentinelName: config.sentinel.name, sentinels: config.sentinel.nodes.map(hostPort), sentinelPassword: config.sentinel.password }
      : {}),
    ...(config.cluster ? { cluster: { nodes: config.cluster.nodes.map(hostPort) } } : {}),
  };
}

export { openMemoryStore, type MemoryStore, type MemoryStoreOptions } from './memory.js';
export type { RedisNode, RedisStoreOptions } from './redis.js';
export * from './types.js';
export { sealRecords, SealedRecordError, type Opened, type SealedRecords } from './sealed-records.js';
import type { RedisInspection } from './inspect.js';
export type { RedisInspection, RedisNodeInfo } from './inspect.js';

/** `doctor`'s look at Redis (src/store/inspect.ts), loaded on use like the Redis backend. */
export async function inspectRedis(options: RedisStoreOptions, timeoutMs: number): Promise<RedisInspection> {
  const { inspectRedis: inspect } = await import('./inspect.js');
  return inspect(options, timeoutMs);
}
