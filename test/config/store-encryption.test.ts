// `store.encryptionKeys` (src/config/schema.ts) and the warning `check` prints without one on Redis.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, configWarnings, parseConfig } from '../../src/config/load.js';

function configWith(store: string): string {
  return `
issuer: https://sso.example.com
store: ${store}
cookieSecrets: ["${'s'.repeat(32)}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: key, clientSecret: secret, corpId: ding1 }
clients:
  - { client_id: app, client_secret: shh, redirect_uris: [https://app.example.com/cb] }
`;
}

const encryptionWarning = (warnings: string[]) => warnings.find((w) => w.startsWith('store.encryptionKeys is empty'));

describe('store.encryptionKeys', () => {
  it('defaults to none, and then check warns for a Redis store (not for memory)', () => {
    const redis = parseConfig(configWith('{ type: redis }'), {}, 'test.yaml');
    assert.deepEqual(redis.store.encryptionKeys, []);
    assert.match(
      encryptionWarning(configWarnings(redis)) ?? '',
      /DingTalk app token.*stored in the clear.*store\.encryptionKeys: \["\$\{STORE_KEY\}"\]/,
    );
    const memory = parseConfig(configWith('{ type: memory }'), {}, 'test.yaml');
    assert.deepEqual(memory.store.encryptionKeys, []);
    assert.equal(encryptionWarning(configWarnings(memory)), undefined);
    assert.deepEqual(parseConfig(configWith('').replace('store: \n', ''), {}, 'test.yaml').store, { type: 'memory', encryptionKeys: [] });
  });

  it('takes keys from the environment, and no warning then', () => {
    const config = parseConfig(configWith('{ type: redis, encryptionKeys: ["${STORE_KEY}"] }'), { STORE_KEY: 'k'.repeat(32) }, 'test.yaml');
    assert.deepEqual(config.store.encryptionKeys, ['k'.repeat(32)]);
    assert.equal(encryptionWarning(configWarnings(config)), undefined);
  });

  it('refuses a key shorter than 32 characters', () => {
    assert.throws(
      () => parseConfig(configWith('{ type: redis, encryptionKeys: ["short"] }'), {}, 'test.yaml'),
      (err: unknown) => err instanceof ConfigError && /store\.encryptionKeys\[0\].*at least 32 characters/.test(err.problems.join('\n')),
    );
  });
});
