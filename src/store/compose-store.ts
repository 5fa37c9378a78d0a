import { randomUUID } from 'node:crypto';
import type { Backend } from './backend.js';
import { ACCOUNT_GRANTS, accountGrantsKey, accountSessionsKey, lockKey, modelKey } from './keys.js';
import { createModelStore, destroyDoc, revokeGrantTokens } from './model-store.js';
import { createRecords, recordTtlMs } from './records.js';
import type { ModelStore, Store } from './types.js';

/**
 * Ends every Grant (with its tokens) and every Session listed under the account. Each document is
 * checked to still belong to the account: a browser session can switch accounts, leaving a stale
 * entry in the old account's index.
 */
async function revokeAccount(backend: Backend, accountId: string): Promise<{ grants: number; sessions: number }> {
  const grantsKey = accountGrantsKey(accountId);
  const sessionsKey = accountSessionsKey(accountId);
  const [grantIds, sessionIds] = await Promise.all([backend.indexMembers(grantsKey), backend.indexMembers(sessionsKey)]);
  const grants = await Promise.all(
    grantIds.map(async (grantId) => {
      const outcome = await destroyOwned(backend, 'Grant', grantId, accountId);
      // Tokens of a grant that already expired may still be alive: end them too.
      if (outcome !== 'foreign') await revokeGrantTokens(backend, grantId);
      await backend.indexRemove(grantsKey, grantId);
      return outcome === 'ended';
    }),
  );
  const sessions = await Promise.all(
    sessionIds.map(async (sessionId) => {
      const outcome = await destroyOwned(backend, 'Session', sessionId, accountId);
      await backend.indexRemove(sessionsKey, sessionId);
      return outcome === 'ended';
    }),
  );
  return { grants: grants.filter(Boolean).length, sessions: sessions.filter(Boolean).length };
}

async function destroyOwned(backend: Backend, model: string, id: string, accountId: string): Promise<'ended' | 'gone' | 'foreign'> {
  const raw = await backend.readDoc(modelKey(model, id));
  if (!raw) return 'gone';
  if ((JSON.parse(raw.payload) as { accountId?: unknown }).accountId !== accountId) return 'foreign';
  await destroyDoc(backend, model, id);
  return 'ended';
}

async function accountsWithGrants(backend: Backend): Promise<string[]> {
  const keys = await backend.scan(ACCOUNT_GRANTS);
  const live = await Promise.all(keys.map(async (key) => ((await backend.indexMembers(key)).length > 0 ? key : undefined)));
  return live.filter((key): key is string => key !== undefined).map((key) => key.slice(ACCOUNT_GRANTS.length));
}

async function lock(backend: Backend, name: string, ttlSeconds: number) {
  const key = lockKey(name);
  const token = randomUUID();
  if (!(await backend.setIfAbsent(key, token, recordTtlMs(ttlSeconds)))) return undefined;
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      // Only our own token: after expiry another replica may hold the lock.
      await backend.delIfEquals(key, token);
    },
  };
}

/** The Store contract on top of a backend's primitives. */
export function composeStore(backend: Backend): Store {
  const models = new Map<string, ModelStore>();
  return {
    kind: backend.kind,
    model(name) {
      let model = models.get(name);
      if (!model) models.set(name, (model = createModelStore(backend, name)));
      return model;
    },
    durable: createRecords(backend, 'acct:'),
    ephemeral: createRecords(backend, 'tmp:'),
    revokeAccount: (accountId) => revokeAccount(backend, accountId),
    accountsWithGrants: () => accountsWithGrants(backend),
    lock: async (name, ttlSeconds) => lock(backend, name, ttlSeconds),
    rateLimiter: (name, limit) => backend.rateLimiter(name, limit),
    health: () => backend.health(),
    onHealthChange: (listener) => backend.onHealthChange(listener),
    ping: () => backend.ping(),
    close: () => backend.close(),
  };
}
