/**
 * The store contract, one suite for every backend: adapter.test.ts runs it against memory,
 * standalone Redis and a local Redis Cluster. Every test uses fresh random ids, so tests never
 * see each other's data.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { AlreadyConsumedError, type Store } from '../../src/store/types.js';

const id = (): string => randomUUID();

/** Waits until a TTL given in seconds has certainly run out (expiry is the behaviour under test). */
const outlive = (ttlSeconds: number): Promise<void> => delay(ttlSeconds * 1000 + 150);

export function adapterSuite(getStore: () => Store): void {
  it('upserts and finds a model payload; unknown ids are undefined', async () => {
    const sessions = getStore().model('Session');
    const sid = id();
    const payload = { uid: id(), accountId: 'acc', loginTs: 1700000000, nested: { a: [1, 'two', null] }, big: 2 ** 53 - 1 };
    await sessions.upsert(sid, payload, 60);
    assert.deepEqual(await sessions.find(sid), payload);
    assert.equal(await sessions.find(id()), undefined);
    assert.equal(await getStore().model('Grant').find(sid), undefined, 'models are separate namespaces');
  });

  it('replaces the payload on upsert and forgets it on destroy', async () => {
    const grants = getStore().model('Grant');
    const gid = id();
    await grants.upsert(gid, { accountId: 'a', v: 1 }, 60);
    await grants.upsert(gid, { accountId: 'a', v: 2 }, 60);
    assert.deepEqual(await grants.find(gid), { accountId: 'a', v: 2 });
    await grants.destroy(gid);
    assert.equal(await grants.find(gid), undefined);
    await grants.destroy(gid); // destroying twice is harmless
  });

  it('lets a payload expire after expiresIn seconds, with its indexes', async () => {
    const store = getStore();
    const [sid, uid, code, userCode] = [id(), id(), id(), id()];
    await store.model('Session').upsert(sid, { uid }, 0.3);
    await store.model('DeviceCode').upsert(code, { userCode }, 0.3);
    await store.model('Interaction').upsert(id(), { kept: true }, 60);
    assert.ok(await store.model('Session').find(sid));
    assert.ok(await store.model('DeviceCode').findByUserCode(userCode));
    await outlive(0.3);
    assert.equal(await store.model('Session').find(sid), undefined);
    assert.equal(await store.model('Session').findByUid(uid), undefined);
    assert.equal(await store.model('DeviceCode').findByUserCode(userCode), undefined);
  });

  it('treats a zero or negative expiresIn as already expired', async () => {
    const interactions = getStore().model('Interaction');
    const iid = id();
    await interactions.upsert(iid, { a: 1 }, 60);
    await interactions.upsert(iid, { a: 2 }, 0);
    assert.equal(await interactions.find(iid), undefined);
  });

  it('lets exactly one of 50 parallel consumes win; the rest get AlreadyConsumedError', async () => {
    const codes = getStore().model('AuthorizationCode');
    const code = id();
    await codes.upsert(code, { grantId: id(), scope: 'openid' }, 60);
    const before = Math.floor(Date.now() / 1000);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => codes.consume(code)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      assert.ok(r.reason instanceof AlreadyConsumedError, String(r.reason));
      assert.equal(r.reason.model, 'AuthorizationCode');
    }
    const found = await codes.find(code);
    assert.equal(found?.scope, 'openid');
    assert.equal(typeof found?.consumed, 'number');
    assert.ok((found.consumed as number) >= before - 1 && (found.consumed as number) <= before + 2);
  });

  it('keeps the consumed mark when a consumed payload is saved again; a missing one cannot be consumed', async () => {
    const tokens = getStore().model('RefreshToken');
    const rt = id();
    await tokens.upsert(rt, { grantId: id() }, 60);
    await tokens.consume(rt);
    await tokens.upsert(rt, { grantId: 'changed' }, 60);
    assert.equal(typeof (await tokens.find(rt))?.consumed, 'number');
    await assert.rejects(tokens.consume(rt), AlreadyConsumedError);
    await assert.rejects(tokens.consume(id()), AlreadyConsumedError);
  });

  it('revokeByGrantId removes every token of the grant, whatever its model, and nothing else', async () => {
    const store = getStore();
    const [grantId, otherGrant, userCode] = [id(), id(), id()];
    const tokens = [
      ['AccessToken', id()],
      ['AccessToken', id()],
      ['RefreshToken', id()],
      ['AuthorizationCode', id()],
      ['DeviceCode', id()],
      ['BackchannelAuthenticationRequest', id()],
    ] as const;
    for (const [model, tid] of tokens) {
      await store.model(model).upsert(tid, { grantId, ...(model === 'DeviceCode' ? { userCode } : {}) }, 60);
    }
    const survivor = id();
    await store.model('AccessToken').upsert(survivor, { grantId: otherGrant }, 60);

    await store.model('AuthorizationCode').revokeByGrantId(grantId);

    for (const [model, tid] of tokens) assert.equal(await store.model(model).find(tid), undefined, `${model} survived`);
    assert.equal(await store.model('DeviceCode').findByUserCode(userCode), undefined);
    assert.deepEqual(await store.model('AccessToken').find(survivor), { grantId: otherGrant });
    await store.model('AccessToken').revokeByGrantId(grantId); // again: nothing left, no error
  });

  it('revokeByGrantId called in parallel for every grantable model (as oidc-provider does) ends all tokens', async () => {
    const store = getStore();
    const grantId = id();
    const ids = Array.from({ length: 20 }, id);
    await Promise.all(ids.map((tid, i) => store.model(i % 2 ? 'AccessToken' : 'RefreshToken').upsert(tid, { grantId }, 60)));
    await Promise.all(
      ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode'].map((model) => store.model(model).revokeByGrantId(grantId)),
    );
    for (const [i, tid] of ids.entries()) {
      assert.equal(await store.model(i % 2 ? 'AccessToken' : 'RefreshToken').find(tid), undefined);
    }
  });

  it('finds a Session by uid and a DeviceCode by userCode, and forgets them on destroy', async () => {
    const store = getStore();
    const [sid, uid, dc, userCode] = [id(), id(), id(), id()];
    await store.model('Session').upsert(sid, { uid, accountId: 'x' }, 60);
    await store.model('DeviceCode').upsert(dc, { userCode, grantId: id() }, 60);
    assert.deepEqual(await store.model('Session').findByUid(uid), { uid, accountId: 'x' });
    assert.deepEqual((await store.model('DeviceCode').findByUserCode(userCode))?.userCode, userCode);
    assert.equal(await store.model('Session').findByUid(id()), undefined);
    assert.equal(await store.model('DeviceCode').findByUserCode(id()), undefined);
    await store.model('Session').destroy(sid);
    await store.model('DeviceCode').destroy(dc);
    assert.equal(await store.model('Session').findByUid(uid), undefined);
    assert.equal(await store.model('DeviceCode').findByUserCode(userCode), undefined);
  });

  it('keeps the uid pointing at the new session when the old one is destroyed after a rotation', async () => {
    const sessions = getStore().model('Session');
    const [oldSid, newSid, uid] = [id(), id(), id()];
    await sessions.upsert(oldSid, { uid, v: 'old' }, 60);
    await sessions.upsert(newSid, { uid, v: 'new' }, 60);
    await sessions.destroy(oldSid);
    assert.equal((await sessions.findByUid(uid))?.v, 'new');
  });

  it('records: get/set/add/delete with JSON values, separate durable and ephemeral namespaces', async () => {
    const { durable, ephemeral } = getStore();
    const key = id();
    assert.equal(await ephemeral.get(key), undefined);
    await ephemeral.set(key, { a: 1, b: ['x'] });
    assert.deepEqual(await ephemeral.get(key), { a: 1, b: ['x'] });
    assert.equal(await durable.get(key), undefined);
    assert.equal(await ephemeral.add(key, 'second'), false);
    assert.deepEqual(await ephemeral.get(key), { a: 1, b: ['x'] }, 'add never overwrites');
    await ephemeral.set(key, 0);
    assert.equal(await ephemeral.get(key), 0);
    await ephemeral.delete(key);
    assert.equal(await ephemeral.get(key), undefined);
    assert.equal(await durable.add(key, 'first'), true);
    assert.equal(await durable.get(key), 'first');
  });

  it('records: a TTL expires the record; bad TTLs and values are refused', async () => {
    const { ephemeral } = getStore();
    const key = id();
    await ephemeral.set(key, 'short', 0.3);
    assert.equal(await ephemeral.get(key), 'short');
    await outlive(0.3);
    assert.equal(await ephemeral.get(key), undefined);
    assert.equal(await ephemeral.add(key, 'again', 60), true, 'an expired record can be added again');
    await assert.rejects(ephemeral.set(id(), 'x', 0), RangeError);
    await assert.rejects(ephemeral.add(id(), 'x', -1), RangeError);
    await assert.rejects(ephemeral.set(id(), undefined), TypeError);
  });

  it('records: of parallel takes exactly one gets the value; of parallel adds exactly one wins', async () => {
    const { ephemeral } = getStore();
    const key = id();
    await ephemeral.set(key, { state: 'abc' }, 60);
    const taken = await Promise.all(Array.from({ length: 30 }, () => ephemeral.take<{ state: string }>(key)));
    assert.deepEqual(
      taken.filter((v) => v !== undefined),
      [{ state: 'abc' }],
    );
    assert.equal(await ephemeral.get(key), undefined);
    const claim = id();
    const added = await Promise.all(Array.from({ length: 30 }, (_, i) => ephemeral.add(claim, i, 60)));
    assert.equal(added.filter(Boolean).length, 1);
    assert.equal(await ephemeral.get(claim), added.indexOf(true));
  });

  it('records: update creates, changes on top of the current value, and writes nothing when told so', async () => {
    const { durable, ephemeral } = getStore();
    const key = id();
    assert.deepEqual(
      await durable.update<{ n: number }>(key, (current) => ({ n: (current?.n ?? 0) + 1 })),
      { n: 1 },
      'an absent record is created',
    );
    assert.deepEqual(await durable.update<{ n: number }>(key, (current) => ({ n: current!.n + 1 })), { n: 2 });
    assert.deepEqual(await durable.get(key), { n: 2 });
    assert.equal(await durable.update(id(), (current) => current), undefined, 'returning what it was given writes nothing');
    await assert.rejects(
      durable.update(key, () => {
        throw new RangeError('refused');
      }),
      RangeError,
    );
    assert.deepEqual(await durable.get(key), { n: 2 }, 'a throwing update writes nothing');
    // A replaced record keeps its TTL.
    const short = id();
    await ephemeral.set(short, 'a', 0.3);
    assert.equal(await ephemeral.update<string>(short, () => 'b'), 'b');
    assert.equal(await ephemeral.get(short), 'b');
    await outlive(0.3);
    assert.equal(await ephemeral.get(short), undefined, 'the update did not make the record live forever');
  });

  it('records: of 20 parallel updates of one record none is lost, and a parallel set is never overwritten', async () => {
    const { durable } = getStore();
    const key = id();
    await durable.set(key, { n: 0, tags: [] as string[] });
    const updates = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        durable.update<{ n: number; tags: string[] }>(key, (current) => ({ n: current!.n + 1, tags: [...current!.tags, `t${i}`] })),
      ),
    );
    const final = await durable.get<{ n: number; tags: string[] }>(key);
    assert.equal(final?.n, 20);
    assert.equal(new Set(final?.tags).size, 20);
    assert.equal(Math.max(...updates.map((u) => u!.n)), 20);
    // Another writer replaces the record between an update's read and its write: the update runs
    // again on the newer value instead of overwriting it. The set is sent before the update's write
    // (one connection, in order; on memory it applies at once), so the race is certain.
    const other = id();
    await durable.set(other, 'old');
    const seen: string[] = [];
    const merged = await durable.update<string>(other, (current) => {
      seen.push(current!);
      if (seen.length === 1) void durable.set(other, 'theirs');
      return `${current}+mine`;
    });
    assert.deepEqual(seen, ['old', 'theirs']);
    assert.equal(merged, 'theirs+mine');
    assert.equal(await durable.get(other), 'theirs+mine');
  });

  it('records: keys(prefix) lists this namespace only, matching the prefix literally', async () => {
    const { durable, ephemeral } = getStore();
    const ns = `${id()}:`;
    const names = Array.from({ length: 120 }, (_, i) => `${ns}user:${i}`);
    await Promise.all(names.map((name) => durable.set(name, 1)));
    await durable.set(`${ns}other`, 1);
    await durable.set(`${ns}us*r:glob`, 1);
    await ephemeral.set(`${ns}user:tmp`, 1);
    const listed = await durable.keys(`${ns}user:`);
    // Compared as differences: a long array diff is slow to render when it fails.
    assert.deepEqual(
      names.filter((name) => !listed.includes(name)),
      [],
      'missing keys',
    );
    assert.equal(listed.length, names.length, 'extra or duplicate keys');
    assert.deepEqual(await durable.keys(`${ns}us*`), [`${ns}us*r:glob`]);
    assert.deepEqual(await ephemeral.keys(ns), [`${ns}user:tmp`]);
    assert.ok((await durable.keys()).includes(`${ns}other`));
    assert.deepEqual(await durable.keys(`${id()}`), []);
  });

  it('lock: one holder at a time; release frees it; a stale release never frees another holder', async () => {
    const store = getStore();
    const name = id();
    const first = await store.lock(name, 30);
    assert.ok(first);
    assert.equal(await store.lock(name, 30), undefined);
    const parallel = await Promise.all(Array.from({ length: 10 }, () => store.lock(name, 30)));
    assert.ok(parallel.every((l) => l === undefined));
    await first.release();
    const second = await store.lock(name, 0.3);
    assert.ok(second);
    await outlive(0.3); // second's lock expires; a third holder takes over
    const third = await store.lock(name, 30);
    assert.ok(third);
    await second.release();
    assert.equal(await store.lock(name, 30), undefined, "second's late release must not free third's lock");
    await third.release();
  });

  it('revokeAccount ends every grant with its tokens and every session of the account, and counts them', async () => {
    const store = getStore();
    const [alice, bob] = [`acc-${id()}`, `acc-${id()}`];
    const aliceGrants = [id(), id()];
    const aliceTokens = aliceGrants.flatMap(
      (grantId) =>
        [
          ['AccessToken', id(), grantId],
          ['RefreshToken', id(), grantId],
        ] as const,
    );
    const aliceSessions = [id(), id()];
    const [bobGrant, bobToken, bobSession, switched] = [id(), id(), id(), id()];
    for (const g of aliceGrants) await store.model('Grant').upsert(g, { accountId: alice, clientId: 'c' }, 60);
    for (const [model, tid, grantId] of aliceTokens) await store.model(model).upsert(tid, { grantId, accountId: alice }, 60);
    for (const s of aliceSessions) await store.model('Session').upsert(s, { uid: id(), accountId: alice }, 60);
    await store.model('Grant').upsert(bobGrant, { accountId: bob }, 60);
    await store.model('AccessToken').upsert(bobToken, { grantId: bobGrant, accountId: bob }, 60);
    await store.model('Session').upsert(bobSession, { uid: id(), accountId: bob }, 60);
    // A browser session that signed in as alice, then as bob: it is bob's now.
    await store.model('Session').upsert(switched, { uid: id(), accountId: alice }, 60);
    await store.model('Session').upsert(switched, { uid: id(), accountId: bob }, 60);

    const withGrants = await store.accountsWithGrants();
    assert.ok(withGrants.includes(alice) && withGrants.includes(bob));

    assert.deepEqual(await store.revokeAccount(alice), { grants: 2, sessions: 2 });

    for (const g of aliceGrants) assert.equal(await store.model('Grant').find(g), undefined);
    for (const [model, tid] of aliceTokens) assert.equal(await store.model(model).find(tid), undefined);
    for (const s of aliceSessions) assert.equal(await store.model('Session').find(s), undefined);
    assert.ok(await store.model('Grant').find(bobGrant));
    assert.ok(await store.model('AccessToken').find(bobToken));
    assert.ok(await store.model('Session').find(bobSession));
    assert.ok(await store.model('Session').find(switched), 'a session now of another account survives');
    const after = await store.accountsWithGrants();
    assert.ok(!after.includes(alice) && after.includes(bob));
    assert.deepEqual(await store.revokeAccount(alice), { grants: 0, sessions: 0 });
    assert.deepEqual(await store.revokeAccount(`acc-${id()}`), { grants: 0, sessions: 0 });
  });

  it('accountsWithGrants forgets accounts whose grants expired or were destroyed', async () => {
    const store = getStore();
    const [expiring, destroyed] = [`acc-${id()}`, `acc-${id()}`];
    const grantId = id();
    await store.model('Grant').upsert(id(), { accountId: expiring }, 0.3);
    await store.model('Grant').upsert(grantId, { accountId: destroyed }, 60);
    assert.ok((await store.accountsWithGrants()).includes(expiring));
    await store.model('Grant').destroy(grantId);
    assert.ok(!(await store.accountsWithGrants()).includes(destroyed));
    await outlive(0.3);
    assert.ok(!(await store.accountsWithGrants()).includes(expiring));
  });

  it('reports itself up and answers ping', async () => {
    const store = getStore();
    assert.equal(store.health(), 'up');
    await store.ping();
  });
}
