/**
 * Resident memory per live session: seeds sessions and grants (the shapes oidc-provider stores for
 * one signed-in person and one client) through the store API, and reports the process's RSS after
 * a full GC at each size; for Redis also Redis's own `used_memory` growth.
 * argv: JSON { store: 'memory' | 'redis', sizes: number[], redisUrl, keyPrefix }. Run with --expose-gc.
 * Prints one JSON line { baseline, sizes: { [n]: { rssMb, redisMb? } } } and exits.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';

const {
  store: kind,
  sizes,
  redisUrl,
  keyPrefix,
} = JSON.parse(process.argv[2]!) as {
  store: 'memory' | 'redis';
  sizes: number[];
  redisUrl: string;
  keyPrefix: string;
};
const store = kind === 'memory' ? openMemoryStore() : openRedisStore({ url: redisUrl, keyPrefix });
const redis = kind === 'redis' ? new Redis(redisUrl) : undefined;
const TTL = 14 * 86400;
const gc = (globalThis as { gc?: () => void }).gc;

const rssMb = () => {
  gc?.();
  gc?.();
  return Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10;
};
const redisUsedMb = async () => {
  if (!redis) return undefined;
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024;
};

async function seed(i: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const accountId = `acct-${i}`;
  const grantId = randomBytes(21).toString('base64url');
  const sessionId = randomBytes(21).toString('base64url');
  await store.model('Grant').upsert(
    grantId,
    {
      kind: 'Grant',
      jti: grantId,
      iat: now,
      exp: now + TTL,
      accountId,
      clientId: 'bench',
      openid: { scope: 'openid profile email groups', claims: ['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'] },
    },
    TTL,
  );
  await store.model('Session').upsert(
    sessionId,
    {
      kind: 'Session',
      jti: sessionId,
      uid: randomBytes(21).toString('base64url'),
      iat: now,
      exp: now + TTL,
      accountId,
      loginTs: now,
      amr: ['dingtalk'],
      authorizations: { bench: { sid: randomBytes(21).toString('base64url'), grantId, persistsLogout: false } },
    },
    TTL,
  );
}

const baseline = { rssMb: rssMb(), redisMb: await redisUsedMb() };
const result: Record<string, { rssMb: number; redisMb?: number }> = {};
let seeded = 0;
for (const size of sizes) {
  while (seeded < size) {
    const batch = Math.min(500, size - seeded);
    await Promise.all(Array.from({ length: batch }, (_, k) => seed(seeded + k)));
    seeded += batch;
  }
  const used = await redisUsedMb();
  result[size] = {
    rssMb: rssMb(),
    ...(used !== undefined && baseline.redisMb !== undefined ? { redisMb: Math.round((used - baseline.redisMb) * 10) / 10 } : {}),
  };
}
process.stdout.write(`${JSON.stringify({ baseline: { rssMb: baseline.rssMb }, sizes: result })}\n`);
await store.close();
redis?.disconnect();
