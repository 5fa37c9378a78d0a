import type { Backend, IndexEntry } from './backend.js';
import {
  ACCOUNT_MODELS,
  GRANTABLE_MODELS,
  accountGrantsKey,
  accountSessionsKey,
  grantIndexKey,
  grantMember,
  modelKey,
  parseGrantMember,
  uidKey,
  userCodeKey,
} from './keys.js';
import { AlreadyConsumedError, type ModelStore, type Payload } from './types.js';

function parsePayload(raw: { payload: string; consumed?: number }): Payload {
  const payload = JSON.parse(raw.payload) as Payload;
  return raw.consumed === undefined ? payload : { ...payload, consumed: raw.consumed };
}

/** The account index a payload of `model` belongs in, if any. */
function accountIndexKey(model: string, payload: Payload): string | undefined {
  const { accountId } = payload;
  if (!ACCOUNT_MODELS.has(model) || typeof accountId !== 'string' || accountId === '') return undefined;
  return model === 'Grant' ? accountGrantsKey(accountId) : accountSessionsKey(accountId);
}

/** Every index entry a payload needs. */
function indexEntries(backend: Backend, model: string, id: string, payload: Payload, ttlMs: number | undefined): IndexEntry[] {
  const expiresAt = ttlMs === undefined ? Infinity : backend.now() + ttlMs;
  const entries: IndexEntry[] = [];
  if (GRANTABLE_MODELS.has(model) && typeof payload.grantId === 'string') {
    entries.push({ kind: 'member', key: grantIndexKey(payload.grantId), member: grantMember(model, id), expiresAt });
  }
  if (model === 'Session' && typeof payload.uid === 'string') entries.push({ kind: 'pointer', key: uidKey(payload.uid), value: id, ttlMs });
  if (typeof payload.userCode === 'string') entries.push({ kind: 'pointer', key: userCodeKey(payload.userCode), value: id, ttlMs });
  const accountKey = accountIndexKey(model, payload);
  if (accountKey) entries.push({ kind: 'member', key: accountKey, member: id, expiresAt });
  return entries;
}

/**
 * The index entries, then the document, so no token is ever unindexed (revocation finds tokens
 * through the indexes): in one step where the backend can, else in two.
 */
async function writeIndexed(backend: Backend, model: string, id: string, payload: Payload, ttlMs: number | undefined) {
  const key = modelKey(model, id);
  const json = JSON.stringify(payload);
  const entries = indexEntries(backend, model, id, payload, ttlMs);
  if (entries.length && (await backend.writeIndexedDoc?.(key, json, ttlMs, entries))) return;
  await Promise.all(
    entries.map((e) => (e.kind === 'member' ? backend.indexAdd(e.key, e.member, e.expiresAt) : backend.set(e.key, e.value, e.ttlMs))),
  );
  await backend.writeDoc(key, json, ttlMs);
}

/** Deletes a document and the index entries pointing at it; the payload it had, if any. */
export async function destroyDoc(backend: Backend, model: string, id: string): Promise<Payload | undefined> {
  const key = modelKey(model, id);
  const raw = await backend.readDoc(key);
  await backend.del(key);
  if (!raw) return undefined;
  const payload = parsePayload(raw);
  const cleanups: Promise<unknown>[] = [];
  // Compare-and-delete: a newer Session may already own the uid (session id rotation).
  if (model === 'Session' && typeof payload.uid === 'string') cleanups.push(backend.delIfEquals(uidKey(payload.uid), id));
  if (typeof payload.userCode === 'string') cleanups.push(backend.delIfEquals(userCodeKey(payload.userCode), id));
  if (GRANTABLE_MODELS.has(model) && typeof payload.grantId === 'string') {
    cleanups.push(backend.indexRemove(grantIndexKey(payload.grantId), grantMember(model, id)));
  }
  const accountKey = accountIndexKey(model, payload);
  if (accountKey) cleanups.push(backend.indexRemove(accountKey, id));
  await Promise.all(cleanups);
  return payload;
}

/**
 * Every token of the grant, whatever its model: oidc-provider calls this once per grantable model
 * (in parallel) when a code is reused or a grant revoked, and any one call ends them all.
 */
export async function revokeGrantTokens(backend: Backend, grantId: string): Promise<void> {
  const indexKey = grantIndexKey(grantId);
  const members = await backend.indexMembers(indexKey);
  await Promise.all(
    members.map((member) => {
      const { model, id } = parseGrantMember(member);
      // Member by member rather than deleting the index: a token issued meanwhile stays indexed.
      return Promise.all([destroyDoc(backend, model, id), backend.indexRemove(indexKey, member)]);
    }),
  );
}

function ttlMsOf(expiresIn: number | undefined): number | undefined {
  if (expiresIn === undefined || expiresIn === null) return undefined;
  if (!Number.isFinite(expiresIn)) throw new RangeError(`expiresIn must be a number of seconds, got ${expiresIn}`);
  return Math.ceil(expiresIn * 1000);
}

export function createModelStore(backend: Backend, model: string): ModelStore {
  const find = async (id: string): Promise<Payload | undefined> => {
    const raw = await backend.readDoc(modelKey(model, id));
    return raw ? parsePayload(raw) : undefined;
  };
  const findVia = async (indexKey: string): Promise<Payload | undefined> => {
    const id = await backend.get(indexKey);
    return id === undefined ? undefined : find(id);
  };
  return {
    async upsert(id, payload, expiresIn) {
      const ttlMs = ttlMsOf(expiresIn);
      // Already expired (a remaining lifetime computed as zero): nothing left to keep.
      if (ttlMs !== undefined && ttlMs <= 0) {
        await destroyDoc(backend, model, id);
        return;
      }
      await writeIndexed(backend, model, id, payload, ttlMs);
    },
    find,
    findByUid: (uid) => findVia(uidKey(uid)),
    findByUserCode: (userCode) => findVia(userCodeKey(userCode)),
    async consume(id) {
      const outcome = await backend.consumeDoc(modelKey(model, id), Math.floor(backend.now() / 1000));
      if (outcome !== 'won') throw new AlreadyConsumedError(model);
    },
    async destroy(id) {
      await destroyDoc(backend, model, id);
    },
    revokeByGrantId: (grantId) => revokeGrantTokens(backend, grantId),
  };
}
