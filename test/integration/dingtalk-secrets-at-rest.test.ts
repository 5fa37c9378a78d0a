// `store.encryptionKeys` wired through the production bridge (src/server/bridge.ts): after a DingTalk
// login the app token in Redis is a JWE, read here with a Redis client of the test's own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { SANDBOX_APP_KEY, sampleUserids } from '../../src/sandbox/index.js';
import { openRedisStore } from '../../src/store/redis.js';
import { sealRecords } from '../../src/store/sealed-records.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { LOCAL_REDIS_URL } from '../helpers/redis.js';

const STORE_KEY = 'integration-store-key-0123456789abcdef';

describe('secrets at rest: the DingTalk app token in Redis', () => {
  let fb: DingTalkBridge;
  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'redis', storeEncryptionKeys: [STORE_KEY] });
  });
  after(() => fb?.close());

  it('is stored encrypted under store.encryptionKeys, and logins work', async () => {
    const login = await fb.loginAs(sampleUserids.manager, 'kubesphere', { scope: 'openid profile' });
    assert.ok(login.code, `login answered ${login.page?.status}`);
    const redis = new Redis(LOCAL_REDIS_URL, { maxRetriesPerRequest: 1 });
    const store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: fb.keyPrefix });
    try {
      const stored = await redis.get(`${fb.keyPrefix}tmp:dingtalk:apptoken:${SANDBOX_APP_KEY}`);
      assert.ok(stored);
      assert.deepEqual(Object.keys(JSON.parse(stored) as object), ['jwe']);
      const opened = await sealRecords(store.ephemeral, [STORE_KEY]).get<{ token: string }>(`dingtalk:apptoken:${SANDBOX_APP_KEY}`);
      assert.ok(opened?.value.token);
      assert.ok(!stored.includes(opened.value.token), 'the token itself is not in Redis');
    } finally {
      redis.disconnect();
      await store.close();
    }
  });
});
