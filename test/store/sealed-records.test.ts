// Sealed records (src/store/sealed-records.ts): values encrypted under the first key, readable
// under any configured one, and a clear error for a value whose key is gone or that was altered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openMemoryStore } from '../../src/store/memory.js';
import { sealRecords, SealedRecordError } from '../../src/store/sealed-records.js';

const A = 'a'.repeat(16) + '-store-key-0123456789';
const B = 'b'.repeat(16) + '-store-key-0123456789';

describe('sealed records', () => {
  it('stores a JWE, not the value, and reads it back', async () => {
    const store = openMemoryStore();
    const sealed = sealRecords(store.ephemeral, [A]);
    assert.equal(sealed.encrypts, true);
    await sealed.set('k', { token: 'upstream-credential' }, 60);
    const stored = await store.ephemeral.get<{ jwe: string }>('k');
    assert.equal(stored?.jwe.split('.').length, 5, 'compact JWE');
    assert.ok(!JSON.stringify(stored).includes('upstream-credential'));
    assert.deepEqual(await sealed.get('k'), { value: { token: 'upstream-credential' }, stale: false });
  });

  it('reads under any configured key and reports a value under an older key or in the clear as stale', async () => {
    const store = openMemoryStore();
    await sealRecords(store.ephemeral, [A]).set('old', 'v1');
    await store.ephemeral.set('clear', 'v0');
    const rotated = sealRecords(store.ephemeral, [B, A]);
    assert.deepEqual(await rotated.get('old'), { value: 'v1', stale: true });
    assert.deepEqual(await rotated.get('clear'), { value: 'v0', stale: true });
    assert.deepEqual(await sealRecords(store.ephemeral, []).get('clear'), { value: 'v0', stale: false });
  });

  it('answers a SealedRecordError naming the key when the key is gone, or when the value was altered', async () => {
    const store = openMemoryStore();
    await sealRecords(store.ephemeral, [A]).set('k', 'v');
    await assert.rejects(sealRecords(store.ephemeral, [B]).get('k'), (err: unknown) => {
      assert.ok(err instanceof SealedRecordError);
      assert.match(err.message, /encrypted with key [\w-]{16}, which is not among store\.encryptionKeys/);
      return true;
    });
    await assert.rejects(sealRecords(store.ephemeral, []).get('k'), SealedRecordError);
    const { jwe } = (await store.ephemeral.get<{ jwe: string }>('k'))!;
    const parts = jwe.split('.');
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith('AA') ? 'BB' : 'AA');
    await store.ephemeral.set('k', { jwe: parts.join('.') });
    await assert.rejects(sealRecords(store.ephemeral, [A]).get('k'), /does not decrypt with key/);
  });
});
