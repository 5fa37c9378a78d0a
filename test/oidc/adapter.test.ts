/**
 * The oidc-provider Adapter over the store: a round trip, and how store failures reach the
 * provider (a lost consume race as invalid_grant, an outage as 503 temporarily_unavailable).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from 'oidc-provider';
import { createAdapter } from '../../src/oidc/adapter.js';
import { TemporarilyUnavailableError } from '../../src/oidc/errors.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type ModelStore, type Store } from '../../src/store/types.js';

describe('store adapter', () => {
  it('stores, finds and destroys a model by the name it is constructed with', async () => {
    const store = openMemoryStore();
    const Adapter = createAdapter(store);
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('c1', { grantId: 'g1', clientId: 'web' }, 60);
    assert.deepEqual(await codes.find('c1'), { grantId: 'g1', clientId: 'web' });
    assert.equal(await new Adapter('AccessToken').find('c1'), undefined, 'models are separate');
    await codes.destroy('c1');
    assert.equal(await codes.find('c1'), undefined);
    await store.close();
  });

  it('turns the loser of a consume race into invalid_grant', async () => {
    const store = openMemoryStore();
    const codes = new (createAdapter(store))('AuthorizationCode');
    await codes.upsert('c2', { grantId: 'g2' }, 60);
    const outcomes = await Promise.allSettled([codes.consume('c2'), codes.consume('c2'), codes.consume('c2')]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) {
      assert.ok(o.reason instanceof errors.InvalidGrant);
      assert.equal(o.reason.statusCode, 400);
    }
    await store.close();
  });

  it('turns an outage into a 503 temporarily_unavailable the provider renders as is', async () => {
    const down = async () => {
      throw new StoreUnavailableError();
    };
    const broken: ModelStore = {
      upsert: down,
      find: down,
      findByUid: down,
      findByUserCode: down,
      consume: down,
      destroy: down,
      revokeByGrantId: down,
    };
    const adapter = new (createAdapter({ model: () => broken } as unknown as Store))('Session');
    for (const call of [
      () => adapter.find('x'),
      () => adapter.upsert('x', {}, 1),
      () => adapter.findByUid('x'),
      () => adapter.consume('x'),
      () => adapter.destroy('x'),
      () => adapter.revokeByGrantId('x'),
      () => adapter.findByUserCode('x'),
    ]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof TemporarilyUnavailableError);
        assert.equal(err.statusCode, 503);
        assert.equal(err.error, 'temporarily_unavailable');
        assert.equal(err.expose, true);
        assert.ok(err.cause instanceof StoreUnavailableError);
        return true;
      });
    }
  });

  it('lets other errors through unchanged', async () => {
    const bug = new TypeError('bug');
    const adapter = new (createAdapter({
      model: () => ({
        find: async () => {
          throw bug;
        },
      }),
    } as unknown as Store))('Grant');
    await assert.rejects(adapter.find('x'), (err) => err === bug);
  });
});
