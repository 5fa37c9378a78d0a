import type { Redis } from 'ioredis';
import type { Backend, ConsumeOutcome, IndexEntry } from './backend.js';
import { composeStore } from './compose-store.js';
import { redisRateLimiter } from './rate-limits.js';
import { createRedisClient, type RedisStoreOptions } from './redis-client.js';
import { RedisConnection } from './redis-connection.js';
import {
  CONSUME_DOC,
  DEL_IF_EQUALS,
  INDEX_ADD,
  REPLACE_IF_EQUALS,
  TAKE,
  WRITE_DOC,
  WRITE_INDEXED_DOC,
  runScript,
} from './redis-scripts.js';
import type { Store } from './types.js';

export type { RedisNode, RedisStoreOptions } from './redis-client.js';

/** A sorted-set score standing for "never expires" (the largest epoch ms a Date can hold). */
const NO_EXPIRY = 8.64e15;
const SCAN_COUNT = 500;

/**
 * A multi-key script refused because the keys are in different hash slots: Redis in cluster mode
 * answers CROSSSLOT; proxies in front of a cluster word it their own way ("keys must in same slot").
 */
const isCrossSlot = (err: unknown): boolean => err instanceof Error && /CROSSSLOT|same slot/i.test(err.message);

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');
const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

/** SCAN one node to the end; the keys are absolute (prefixed). */
async function scanNode(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/**
 * The backend primitives as Redis commands. `keyPrefix` is applied here, by hand, rather than
 * through ioredis' `keyPrefix` option, which SCAN patterns and results do not get: one rule for
 * every command.
 */
function redisBackend(connection: RedisConnection, keyPrefix: string): Backend {
  const k = (key: string): string => keyPrefix + key;
  const run = connection.run.bind(connection);
  let slotsEnforced = false;
  return {
    kind: 'redis',
    now: Date.now,
    async readDoc(key) {
      const [payload, consumed] = await run((c) => c.hmget(k(key), 'payload', 'consumed'));
      if (payload === null || payload === undefined) return undefined;
      return consumed ? { payload, consumed: Number(consumed) } : { payload };
    },
    async writeDoc(key, payload, ttlMs) {
      await run((c) => runScript(c, WRITE_DOC, k(key), [payload, ttlMs ?? '']));
    },
    // One round trip instead of two per model write; a Cluster keeps the two steps (its keys live
    // in different slots), and so does a server that turns out to enforce slots (a cluster-mode
    // node or a proxy in front of a cluster, e.g. a managed "cluster edition" behind one address).
    ...(connection.isCluster
      ? {}
      : {
          async writeIndexedDoc(key: string, payload: string, ttlMs: number | undefined, entries: readonly IndexEntry[]) {
            if (slotsEnforced) return false;
            const args: (string | number)[] = [payload, ttlMs ?? '', Date.now(), NO_EXPIRY];
            for (const e of entries) {
              args.push(...(e.kind === 'member' ? ['m', e.member, Math.min(e.expiresAt, NO_EXPIRY)] : ['p', e.value, e.ttlMs ?? '']));
            }
            try {
              await run((c) => runScript(c, WRITE_INDEXED_DOC, [k(key), ...entries.map((e) => k(e.key))], args));
              return true;
            } catch (err) {
              // Refused before it ran, so nothing was written: from now on, two steps.
              if (!isCrossSlot(err)) throw err;
              slotsEnforced = true;
              return false;
            }
          },
        }),
    async consumeDoc(key, at): Promise<ConsumeOutcome> {
      const outcome = await run((c) => runScript(c, CONSUME_DOC, k(key), [at]));
      return outcome === 2 ? 'won' : outcome === 1 ? 'consumed' : 'missing';
    },
    get: async (key) => orUndefined(await run((c) => c.get(k(key)))),
    async set(key, value, ttlMs) {
      await run((c) => (ttlMs === undefined ? c.set(k(key), value) : c.set(k(key), value, 'PX', ttlMs)));
    },
    async setIfAbsent(key, value, ttlMs) {
      const reply = await run((c) => (ttlMs === undefined ? c.set(k(key), value, 'NX') : c.set(k(key), value, 'PX', ttlMs, 'NX')));
      return reply === 'OK';
    },
    take: async (key) => orUndefined((await run((c) => runScript(c, TAKE, k(key), []))) as string | null),
    async del(key) {
      await run((c) => c.del(k(key)));
    },
    delIfEquals: async (key, value) => (await run((c) => runScript(c, DEL_IF_EQUALS, k(key), [value]))) === 1,
    replaceIfEquals: async (key, expected, value) => (await run((c) => runScript(c, REPLACE_IF_EQUALS, k(key), [expected, value]))) === 1,
    async indexAdd(key, member, expiresAt) {
      const score = Math.min(expiresAt, NO_EXPIRY);
      await run((c) => runScript(c, INDEX_ADD, k(key), [member, score, Date.now(), NO_EXPIRY]));
    },
    async indexRemove(key, member) {
      await run((c) => c.zrem(k(key), member));
    },
    indexMembers: (key) => run((c) => c.zrangebyscore(k(key), `(${Date.now()}`, '+inf')),
    async scan(prefix) {
      const pattern = `${escapeGlob(keyPrefix + prefix)}*`;
      const perNode = await run(() => Promise.all(connection.masters().map((node) => scanNode(node, pattern))));
      return [...new Set(perNode.flat())].map((key) => key.slice(keyPrefix.length));
    },
    rateLimiter: (name, limit) => redisRateLimiter(connection, keyPrefix, name, limit),
    health: () => connection.health(),
    onHealthChange: (listener) => connection.onHealthChange(listener),
    async ping() {
      await run((c) => c.ping());
    },
    close: () => connection.close(),
  };
}

/**
 * The Redis store: standalone, Sentinel or Cluster (see RedisStoreOptions). It starts 'down'
 * and turns 'up' once connected; while Redis is unreachable every call rejects with
 * StoreUnavailableError within about `readyWaitMs`, and the client reconnects by itself.
 */
export function openRedisStore(options: RedisStoreOptions): Store {
  const connection = new RedisConnection(createRedisClient(options), options.readyWaitMs ?? 1000);
  return composeStore(redisBackend(connection, options.keyPrefix));
}
