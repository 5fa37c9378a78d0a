import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { redisClientConfig } from '../../src/store/redis-client.js';
import { openRedisStore } from '../../src/store/redis.js';
import { openStore } from '../../src/store/index.js';
import { StoreUnavailableError, type Store } from '../../src/store/types.js';
import { LOCAL_REDIS_URL, cleanupPrefix, startRedisServer, testPrefix, type RedisServer } from '../helpers/redis.js';
import { startRedisSentinel, type RedisSentinel } from '../helpers/redis-sentinel.js';
import { startSingleNodeCluster } from '../helpers/redis-cluster.js';

function whenUp(store: Store): Promise<void> {
  return new Promise((resolve) => {
    if (store.health() === 'up') resolve();
    else store.onHealthChange((health) => health === 'up' && resolve());
  });
}

describe('redis client options', () => {
  it('takes host, port, database, credentials and TLS from a rediss:// URL', () => {
    const config = redisClientConfig({ url: 'rediss://bridge:p%40ss%3Aw%2Frd@redis.example.test:6380/2', keyPrefix: 'x:' });
    assert.ok(config.topology === 'standalone');
    const { options } = config;
    assert.deepEqual(
      { host: options.host, port: options.port, db: options.db, username: options.username, password: options.password, tls: options.tls },
      { host: 'redis.example.test', port: 6380, db: 2, username: 'bridge', password: 'p@ss:w/rd', tls: {} },
    );
  });

  it('fails fast rather than queueing: no offline queue, one retry per command, reconnect forever', () => {
    const config = redisClientConfig({ keyPrefix: 'x:' });
    assert.ok(config.topology === 'standalone');
    const { options } = config;
    assert.equal(options.enableOfflineQueue, false);
    assert.equal(options.maxRetriesPerRequest, 1);
    assert.equal(options.commandTimeout, 2000);
    const retry = options.retryStrategy as (n: number) => number;
    assert.ok(retry(1) < 500 && retry(1000) <= 2100, 'capped backoff that never gives up');
  });

  it('pipelines the commands of one tick into one write on a single node, not on a Cluster (MOVED in a pipeline)', () => {
    const single = redisClientConfig({ keyPrefix: 'x:' });
    assert.ok(single.topology === 'standalone');
    assert.equal(single.options.enableAutoPipelining, true);
    const cluster = redisClientConfig({ keyPrefix: 'x:', cluster: { nodes: [{ host: 'c1', port: 7000 }] } });
    assert.ok(cluster.topology === 'cluster');
    assert.notEqual(cluster.options.enableAutoPipelining, true);
    assert.notEqual(cluster.options.redisOptions?.enableAutoPipelining, true);
  });

  it('lets explicit credentials override the URL and maps Sentinel and Cluster', () => {
    const plain = redisClientConfig({ url: 'redis://u:p@h:1/0', keyPrefix: 'x:', username: 'other', password: 'secret', tls: true });
    assert.ok(plain.topology === 'standalone');
    assert.equal(plain.options.username, 'other');
    assert.equal(plain.options.password, 'secret');
    assert.deepEqual(plain.options.tls, {});

    const sentinel = redisClientConfig({
      url: 'redis://:pw@ignored:1/3',
      keyPrefix: 'x:',
      sentinelName: 'mymaster',
      sentinelPassword: 'sp',
      sentinels: [{ host: 's1', port: 26379 }],
    });
    assert.equal(sentinel.topology, 'sentinel');
    assert.ok(sentinel.topology === 'sentinel');
    assert.deepEqual(
      {
        name: sentinel.options.name,
        sentinels: sentinel.options.sentinels,
        sp: sentinel.options.sentinelPassword,
        pw: sentinel.options.password,
        db: sentinel.options.db,
      },
      { name: 'mymaster', sentinels: [{ host: 's1', port: 26379 }], sp: 'sp', pw: 'pw', db: 3 },
    );

    const cluster = redisClientConfig({ url: 'rediss://:pw@ignored:1', keyPrefix: 'x:', cluster: { nodes: [{ host: 'c1', port: 7000 }] } });
    assert.ok(cluster.topology === 'cluster');
    assert.deepEqual(cluster.nodes, [{ host: 'c1', port: 7000 }]);
    assert.equal(cluster.options.enableOfflineQueue, false);
    assert.equal(cluster.options.redisOptions?.password, 'pw');
    assert.deepEqual(cluster.options.redisOptions?.tls, {});
  });

  it('refuses contradictory or malformed options with a clear error', () => {
    assert.throws(() => redisClientConfig({ keyPrefix: 'x:', sentinels: [{ host: 'a', port: 1 }] }), /master name/);
    assert.throws(
      () =>
        redisClientConfig({
          keyPrefix: 'x:',
          sentinelName: 'm',
          sentinels: [{ host: 'a', port: 1 }],
          cluster: { nodes: [{ host: 'b', port: 2 }] },
        }),
      /either sentinel or cluster/,
    );
    assert.throws(() => redisClientConfig({ keyPrefix: 'x:', url: 'http://h:1' }), /redis:\/\//);
    assert.throws(() => redisClientConfig({ keyPrefix: 'x:', url: 'redis://h:1/abc' }), /database number/);
  });
});

describe('redis key layout', () => {
  const keyPrefix = testPrefix();
  const k = (key: string): string => keyPrefix + key;
  let store: Store;
  let redis: Redis;
  before(async () => {
    store = await openStore({ type: 'redis', url: LOCAL_REDIS_URL, keyPrefix });
    redis = new Redis(LOCAL_REDIS_URL);
    await whenUp(store);
  });
  after(async () => {
    await store.close();
    redis.disconnect();
    await cleanupPrefix(keyPrefix);
  });

  it('writes models, indexes and records under the prefix with the TTLs asked for', async () => {
    await store.model('Session').upsert('s1', { uid: 'u1', accountId: 'acc1' }, 100);
    await store.model('AccessToken').upsert('t1', { grantId: 'g1' }, 50);
    await store.ephemeral.set('state:1', { a: 1 }, 30);
    await store.durable.set('account:1', { sub: 'x' });
    assert.equal(await redis.type(k('op:Session:s1')), 'hash');
    assert.deepEqual(JSON.parse((await redis.hget(k('op:Session:s1'), 'payload'))!), { uid: 'u1', accountId: 'acc1' });
    const near = async (key: string, ms: number) => {
      const ttl = await redis.pttl(k(key));
      assert.ok(ttl > ms - 2000 && ttl <= ms, `${key}: pttl ${ttl}, expected about ${ms}`);
    };
    await near('op:Session:s1', 100_000);
    await near('idx:uid:u1', 100_000);
    await near('idx:accountSessions:acc1', 100_000);
    await near('op:AccessToken:t1', 50_000);
    await near('idx:grant:g1', 50_000);
    assert.deepEqual(await redis.zrange(k('idx:grant:g1'), '0', '-1'), ['AccessToken:t1'], 'members are ids, not prefixed keys');
    await near('tmp:state:1', 30_000);
    assert.equal(await redis.pttl(k('acct:account:1')), -1, 'durable records never expire');
  });

  it('prunes expired index members and lets an index expire with its longest-lived member', async () => {
    await store.model('Grant').upsert('short', { accountId: 'acc2' }, 0.2);
    await delay(350); // outlive the short grant
    await store.model('Grant').upsert('long', { accountId: 'acc2' }, 100);
    assert.deepEqual(await redis.zrange(k('idx:accountGrants:acc2'), '0', '-1'), ['long']);
    const ttl = await redis.pttl(k('idx:accountGrants:acc2'));
    assert.ok(ttl > 98_000 && ttl <= 100_000, `pttl ${ttl}`);
    await store.model('Grant').upsert('forever', { accountId: 'acc2' }, undefined as unknown as number);
    assert.equal(await redis.pttl(k('idx:accountGrants:acc2')), -1, 'a member without expiry keeps the index');
    assert.equal(await redis.pttl(k('op:Grant:forever')), -1);
  });

  it('writes a model and its indexes in one round trip, and no document when an index write fails', async () => {
    // A first write loads the script, so the one counted below is not an evalsha refused with NOSCRIPT and sent again.
    await store.model('RefreshToken').upsert('r0', { grantId: 'g8' }, 60);
    const monitor = await redis.monitor();
    const seen: string[][] = [];
    const written = new Promise<void>((resolve) => {
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (!args.some((a) => String(a).startsWith(keyPrefix))) return;
        seen.push(args.map(String));
        if (args[0]?.toLowerCase() === 'hset' && args[1] === k('op:RefreshToken:r1')) resolve();
      });
    });
    try {
      await store.model('RefreshToken').upsert('r1', { grantId: 'g9', accountId: 'acc9' }, 60);
      await written;
    } finally {
      monitor.disconnect();
    }
    // The client sent one command for the token; the rest MONITOR shows ran inside its script.
    const sent = seen.filter((args) => /^(evalsha|eval)$/i.test(args[0]!));
    assert.equal(sent.length, 1, JSON.stringify(seen));
    assert.deepEqual(sent[0]!.slice(2, 5), ['2', k('op:RefreshToken:r1'), k('idx:grant:g9')]);
    assert.deepEqual(await redis.zrange(k('idx:grant:g9'), '0', '-1'), ['RefreshToken:r1']);

    // An index key of the wrong type: the write fails and leaves no token that revocation could not find.
    await redis.set(k('idx:grant:g10'), 'not a sorted set');
    await assert.rejects(store.model('AccessToken').upsert('t10', { grantId: 'g10' }, 60));
    assert.equal(await store.model('AccessToken').find('t10'), undefined);
    assert.equal(await redis.exists(k('op:AccessToken:t10')), 0);
  });

  it('behind a server that enforces hash slots, writes a model and its indexes in two steps instead', async () => {
    const clustered = await startSingleNodeCluster();
    const other = openRedisStore({ url: clustered.url, keyPrefix });
    const direct = new Redis(clustered.url);
    try {
      await whenUp(other);
      for (const id of ['s1', 's2']) {
        await other.model('Session').upsert(id, { uid: `u-${id}`, accountId: 'acc1' }, 60);
        assert.deepEqual(await other.model('Session').findByUid(`u-${id}`), { uid: `u-${id}`, accountId: 'acc1' });
      }
      assert.deepEqual((await direct.zrange(k('idx:accountSessions:acc1'), '0', '-1')).sort(), ['s1', 's2']);
    } finally {
      direct.disconnect();
      await other.close();
      await clustered.stop();
    }
  });

  it('leaves keys of other prefixes alone in keys()', async () => {
    const other = testPrefix();
    await redis.set(`${other}tmp:state:9`, '1', 'EX', 60);
    try {
      assert.ok(!(await store.ephemeral.keys()).some((key) => key.includes('state:9')));
    } finally {
      await cleanupPrefix(other);
    }
  });
});

describe('redis credentials', () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer({
      args: () => ['--user', 'default', 'off', '--user', 'bridge', 'on', '>p@ss:w/rd', '~*', '&*', '+@all'],
    });
  });
  after(() => server?.stop());

  it('connects with user:password from the URL (percent-encoded)', async () => {
    const store = openRedisStore({ url: `redis://bridge:${encodeURIComponent('p@ss:w/rd')}@127.0.0.1:${server.port}`, keyPrefix: 'acl:' });
    try {
      await whenUp(store);
      await store.ephemeral.set('k', 'v', 60);
      assert.equal(await store.ephemeral.get('k'), 'v');
    } finally {
      await store.close();
    }
  });

  it('stays down and answers StoreUnavailableError with a wrong password', async () => {
    const store = openRedisStore({ url: `redis://bridge:wrong@127.0.0.1:${server.port}`, keyPrefix: 'acl:', readyWaitMs: 300 });
    try {
      await assert.rejects(store.ping(), StoreUnavailableError);
      assert.equal(store.health(), 'down');
    } finally {
      await store.close();
    }
  });
});

describe('redis store via Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisSentinel;
  before(async () => {
    master = await startRedisServer();
    sentinel = await startRedisSentinel(master.port);
  });
  after(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  it('finds the master through the sentinel and writes to it, a model with its indexes in one script', async () => {
    const store = openRedisStore({
      keyPrefix: 'sentinel:',
      sentinelName: sentinel.masterName,
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
    });
    const direct = new Redis(master.url);
    try {
      await whenUp(store);
      await store.ephemeral.set('k', 'via-sentinel', 60);
      assert.equal(await direct.get('sentinel:tmp:k'), '"via-sentinel"');
      await store.model('Session').upsert('s1', { uid: 'u1', accountId: 'acc1' }, 60);
      assert.deepEqual(await store.model('Session').findByUid('u1'), { uid: 'u1', accountId: 'acc1' });
      assert.deepEqual(await direct.zrange('sentinel:idx:accountSessions:acc1', '0', '-1'), ['s1']);
    } finally {
      direct.disconnect();
      await store.close();
    }
  });
});
