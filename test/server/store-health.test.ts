// The store's health as log lines (src/server/store-health.ts): every change, the first included.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { watchStoreHealth } from '../../src/server/store-health.js';
import type { Store, StoreHealth } from '../../src/store/types.js';
import { captureLogs } from '../helpers/logs.js';
import { startBridge, TEST_CLIENTS } from '../helpers/bridge.js';
import { startRedisServer } from '../helpers/redis.js';

/** A store whose health the test sets. */
function fakeStore() {
  const listeners: ((health: StoreHealth, cause?: unknown) => void)[] = [];
  const store = { kind: 'redis', health: () => 'down', onHealthChange: (l: (typeof listeners)[number]) => listeners.push(l) };
  return { store: store as unknown as Store, report: (health: StoreHealth, cause?: unknown) => listeners.forEach((l) => l(health, cause)) };
}

describe('store health in the log', () => {
  it('logs a store unreachable from the start with its cause, then "reachable", then an outage and "reachable again"', () => {
    const { store, report } = fakeStore();
    const logs = captureLogs();
    watchStoreHealth(store, logs.log);
    report('down', new Error('connect ECONNREFUSED 127.0.0.1:6390'));
    report('up');
    report('down');
    report('up');
    const seen = logs.lines.map((l) => `${l.level} ${l.msg}${l.err ? ` (${(l.err as { message: string }).message})` : ''}`);
    assert.deepEqual(seen, [
      'warn store unreachable: protocol endpoints answer 503 until it is back (connect ECONNREFUSED 127.0.0.1:6390)',
      'info store reachable again',
      'warn store unreachable: protocol endpoints answer 503 until it is back',
      'info store reachable again',
    ]);
  });

  it('says "store reachable", not "again", when the first it hears is that the store is up', () => {
    const { store, report } = fakeStore();
    const logs = captureLogs();
    watchStoreHealth(store, logs.log);
    report('up');
    assert.deepEqual(
      logs.lines.map((l) => l.msg),
      ['store reachable'],
    );
  });
});

describe('store health of a bridge whose Redis is down from the start', () => {
  it('logs it with the cause, although the store refused before the bridge subscribed', { timeout: 30_000 }, async () => {
    const redis = await startRedisServer();
    await redis.stop();
    // An OIDC upstream: its module loads during start-up, after the store has opened and failed.
    const bridge = await startBridge({ upstream: 'oidc-issuer', store: 'redis', redisUrl: redis.url, clients: TEST_CLIENTS });
    try {
      const line = await bridge.logged('store unreachable: protocol endpoints answer 503 until it is back');
      assert.equal(line.level, 'warn');
      assert.match(String((line.err as { message?: string } | undefined)?.message), /ECONNREFUSED/);
      assert.equal(bridge.logs.filter((l) => l.msg.startsWith('store unreachable')).length, 1, 'once');
    } finally {
      await bridge.close();
    }
  });
});
