/**
 * Rate limiters on the store, from rate-limiter-flexible
 * (https://github.com/animir/node-rate-limiter-flexible): fixed windows of `durationSeconds`
 * counted per key. On Redis the counter is one key per limited key, `rl:<name>:<digest>` under the
 * store's key prefix, incremented by one single-key script, so every replica shares it and Redis
 * Cluster needs no hash tags. On the memory store the same limits hold per process.
 *
 * The key a caller passes (a client id, an address) is hashed: it is client input of any length
 * and must not become an unbounded Redis key, and the store need not hold addresses in clear.
 */
import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisConnection } from './redis-connection.js';
import type { RateLimit, RateLimitDecision, RateLimiter } from './types.js';

export const rateLimitKeyPrefix = (name: string): string => `rl:${name}`;

const digest = (key: string): string => createHash('sha256').update(key).digest('base64url').slice(0, 32);

/** A refusal as a decision; any other failure is passed on. */
function decide(outcome: unknown): RateLimitDecision {
  if (outcome instanceof RateLimiterRes) {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)) };
  }
  throw outcome;
}

async function consumeWith(limiter: RateLimiterAbstract, key: string): Promise<RateLimitDecision> {
  try {
    await limiter.consume(digest(key));
    return { allowed: true };
  } catch (outcome) {
    return decide(outcome);
  }
}

export function memoryRateLimiter(name: string, limit: RateLimit): RateLimiter {
  const limiter = new RateLimiterMemory({ keyPrefix: rateLimitKeyPrefix(name), points: limit.points, duration: limit.durationSeconds });
  return { consume: (key) => consumeWith(limiter, key) };
}

/**
 * On the store's own ioredis client (standalone, Sentinel or Cluster alike), with the store's key
 * prefix. `connection.run` fails fast with StoreUnavailableError while Redis is down, as every
 * other store call does; a refusal is a RateLimiterRes, turned into a decision inside the command
 * so it is not mistaken for an outage.
 */
export function redisRateLimiter(connection: RedisConnection, keyPrefix: string, name: string, limit: RateLimit): RateLimiter {
  const limiter = new RateLimiterRedis({
    storeClient: connection.client,
    keyPrefix: keyPrefix + rateLimitKeyPrefix(name),
    points: limit.points,
    duration: limit.durationSeconds,
    rejectIfRedisNotReady: true,
  });
  return { consume: (key) => connection.run(() => consumeWith(limiter, key)) };
}
