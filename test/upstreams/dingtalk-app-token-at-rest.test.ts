/**
 * The DingTalk app token at rest (src/upstreams/dingtalk/app-token.ts over src/store/sealed-records.ts):
 * encrypted in Redis under `store.encryptionKeys`, readable across a key rotation, migrated from the
 * clear, and simply fetched again when its key is gone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { decodeProtectedHeader } from 'jose';
import { SANDBOX_APP_KEY, sampleUserids } from '../../src/sandbox/index.js';
import { openRedisStore } from '../../src/store/redis.js';
import { sealRecords } from '../../src/store/sealed-records.js';
import type { Store } from '../../src/store/types.js';
import { cleanupPrefix, LOCAL_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startBench, type Bench } from './dingtalk-harness.js';

const TOKEN_PATH = '/v1.0/oauth2/accessToken';
const OLD_KEY = 'old-store-key-0123456789abcdefghijklmnop';
const NEW_KEY = 'new-store-key-0123456789abcdefghijklmnop';
const OTHER_KEY = 'other-store-key-0123456789abcdefghijklmn';

describe('dingtalk app token at rest', () => {
  let bench: Bench;
  let raw: Redis;
  const stores: Store[] = [];
  const tokenFetches = () => bench.sandbox.stats.calls[TOKEN_PATH] ?? 0;

  before(async () => {
    bench = await startBench();
    raw = new Redis(LOCAL_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    raw.disconnect();
    await bench.close();
    await Promise.all(stores.map((s) => s.close()));
  });

  /** A fresh Redis prefix and a replica on it whose app token is sealed with `keys`. */
  function onRedis(prefix: string, keys: string[]) {
    const store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
    stores.push(store);
    const secrets = sealRecords(store.ephemeral, keys);
    return { replica: bench.add({}, { store, secrets }), secrets };
  }
  const rawKey = (prefix: string) => `${prefix}tmp:dingtalk:apptoken:${SANDBOX_APP_KEY}`;
  const kidIn = (stored: string | null) => decodeProtectedHeader((JSON.parse(stored!) as { jwe: string }).jwe).kid;

  async function signIn(replica: ReturnType<typeof onRedis>['replica']) {
    const outcome = await replica.signIn(sampleUserids.manager);
    assert.ifError(outcome.err);
    assert.ok(outcome.identity);
  }

  it('is not readable in Redis: the stored value is a JWE (dir, A256GCM) with a key id', async (t) => {
    const prefix = testPrefix('test:apptoken');
    t.after(() => cleanupPrefix(prefix));
    const { replica, secrets } = onRedis(prefix, [NEW_KEY]);
    await signIn(replica);
    const stored = await raw.get(rawKey(prefix));
    const token = (await secrets.get<{ token: string }>(`dingtalk:apptoken:${SANDBOX_APP_KEY}`))?.value.token;
    assert.ok(stored && token);
    assert.ok(!stored.includes(token), 'the token itself is not in Redis');
    const header = decodeProtectedHeader((JSON.parse(stored) as { jwe: string }).jwe);
    assert.equal(header.alg, 'dir');
    assert.equal(header.enc, 'A256GCM');
    assert.equal(typeof header.kid, 'string');
  });

  it('survives a key rotation: the old key still decrypts, and the token is rewritten under the new one', async (t) => {
    const prefix = testPrefix('test:apptoken');
    t.after(() => cleanupPrefix(prefix));
    bench.sandbox.resetStats();
    await signIn(onRedis(prefix, [OLD_KEY]).replica);
    const oldKid = kidIn(await raw.get(rawKey(prefix)));
    await signIn(onRedis(prefix, [NEW_KEY, OLD_KEY]).replica);
    assert.equal(tokenFetches(), 1, 'the rotated replica used the cached token');
    const newKid = kidIn(await raw.get(rawKey(prefix)));
    assert.notEqual(newKid, oldKid, 'rewritten under the first key');
    assert.ok((await raw.pttl(rawKey(prefix))) > 6000_000, 'the rewrite keeps the TTL');
    await signIn(onRedis(prefix, [NEW_KEY]).replica);
    assert.equal(tokenFetches(), 1, 'after the old key is removed the token still reads');
  });

  it('reads a token kept in the clear before a key was configured, and encrypts it', async (t) => {
    const prefix = testPrefix('test:apptoken');
    t.after(() => cleanupPrefix(prefix));
    bench.sandbox.resetStats();
    await signIn(onRedis(prefix, []).replica);
    const clear = JSON.parse((await raw.get(rawKey(prefix)))!) as { token: string };
    assert.ok(clear.token, 'without a key the token is stored as before');
    await signIn(onRedis(prefix, [NEW_KEY]).replica);
    assert.equal(tokenFetches(), 1);
    const stored = await raw.get(rawKey(prefix));
    assert.ok(!stored!.includes(clear.token), 'rewritten encrypted');
    assert.equal(typeof kidIn(stored), 'string');
  });

  it('with its key removed, says so in a warning and fetches a new token (it is a cache)', async (t) => {
    const prefix = testPrefix('test:apptoken');
    t.after(() => cleanupPrefix(prefix));
    bench.sandbox.resetStats();
    await signIn(onRedis(prefix, [OLD_KEY]).replica);
    const oldKid = kidIn(await raw.get(rawKey(prefix)));
    const warnings = bench.logs.length;
    await signIn(onRedis(prefix, [OTHER_KEY]).replica);
    assert.equal(tokenFetches(), 2, 'fetched again');
    const warning = bench.logs.slice(warnings).find((l) => l.level === 'warn' && /app token cannot be read/.test(l.msg ?? ''));
    assert.ok(warning, 'a warning');
    assert.match(String(warning.obj.reason), new RegExp(`key ${String(oldKid)}, which is not among store.encryptionKeys`));
    assert.notEqual(kidIn(await raw.get(rawKey(prefix))), oldKid, 'replaced under the configured key');
  });
});
