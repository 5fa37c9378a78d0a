import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/**
 * Lua scripts for the steps that must be atomic. Each takes exactly one key, in KEYS, so it is
 * valid on Redis Cluster, but for WRITE_INDEXED_DOC, which is only run on a single node. Scripts only use Redis ≥ 5 commands (no GETDEL, no SET KEEPTTL), so
 * older managed Redis works too.
 */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): LuaScript => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });

/** Models live in a hash {payload, consumed}: HSET replaces the payload, a consumed mark stays. */
export const WRITE_DOC = script(`
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

/** 0 missing, 1 already consumed, 2 this call won. EXISTS first: HSETNX alone would create a key without TTL. */
export const CONSUME_DOC = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) + 1`);

export const TAKE = script(`
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
return value`);

export const DEL_IF_EQUALS = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Compare-and-set of a string: ARGV expected, new value. The TTL stays (PTTL, as SET KEEPTTL needs Redis 6). */
export const REPLACE_IF_EQUALS = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`);

/**
 * An expiring set as a sorted set scored by expiry (epoch ms): add the member, prune what has
 * expired (score <= now), and let the key expire with its last member so indexes never grow.
 * ARGV: member, expiresAt, now, the score meaning "never".
 */
export const INDEX_ADD = script(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 0 then return 0 end
local expiresAt = tonumber(last[2])
if expiresAt >= tonumber(ARGV[4]) then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIREAT', KEYS[1], math.ceil(expiresAt)) end
return 1`);

/**
 * A model document with its index entries, in one round trip on a single node or Sentinel:
 * INDEX_ADD's steps for each `m` entry, a SET for each `p` entry, then WRITE_DOC's. An entry that
 * fails (a key of the wrong type) raises before the document is written, so no token is ever
 * stored unindexed; entries written before it stay (a script is not rolled back), as they would
 * in two steps. KEYS: the document, then one key per entry. ARGV: payload, its TTL in ms or
 * '', now (epoch ms), the score meaning "never", then three per entry: `m`, member, expiresAt or
 * `p`, value, TTL in ms or ''.
 */
export const WRITE_INDEXED_DOC = script(`
local never = tonumber(ARGV[4])
for i = 2, #KEYS do
  local at = 5 + (i - 2) * 3
  local kind, a, b = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  if kind == 'm' then
    redis.call('ZADD', KEYS[i], b, a)
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[3])
    local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    if #last > 0 then
      local expiresAt = tonumber(last[2])
      if expiresAt >= never then redis.call('PERSIST', KEYS[i])
      else redis.call('PEXPIREAT', KEYS[i], math.ceil(expiresAt)) end
    end
  elseif b == '' then redis.call('SET', KEYS[i], a)
  else redis.call('SET', KEYS[i], a, 'PX', b) end
end
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

export async function runScript(client: RedisClient, lua: LuaScript, key: string | string[], args: (string | number)[]): Promise<unknown> {
  const keys = typeof key === 'string' ? [key] : key;
  try {
    return await client.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (err) {
    // First use on this node (or after SCRIPT FLUSH / a failover): send the body once.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return client.eval(lua.lua, keys.length, ...keys, ...args);
    throw err;
  }
}
