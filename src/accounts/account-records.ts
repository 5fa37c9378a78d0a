/**
 * The durable record layout of accounts, in the store's `acct:` namespace:
 *
 *   account:<sub>      → Account JSON (with schemaVersion)
 *   username:<name>    → sub of the person the name belongs to (now or formerly; never released),
 *                        or `reserved:<source>`: a name kept from everyone (`accounts reserve`)
 *   link:<derived sub> → the sub of an account created with its upstream's own sub (`legacySubject`)
 *
 * Read-modify-write of an account runs under a store lock, so a login on one replica cannot
 * overwrite a tombstone or a rename made at the same moment on another.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Records, Store } from '../store/types.js';
import { AccountBusyError, UnknownAccountError } from './errors.js';
import { ACCOUNT_SCHEMA_VERSION, type Account } from './types.js';

export const ACCOUNT_PREFIX = 'account:';
export const accountKey = (sub: string): string => `${ACCOUNT_PREFIX}${sub}`;
export const USERNAME_PREFIX = 'username:';
export const usernameKey = (name: string): string => `${USERNAME_PREFIX}${name}`;
/** The account a (linkDomain, linkKey) belongs to when its sub is not the derived one (`legacySubject`). */
export const linkAliasKey = (derivedSub: string): string => `link:${derivedSub}`;
/**
 * What a reserved name's `username:` record holds instead of a sub. A sub never contains ':', so the
 * marker can never be mistaken for one, and every claim of a reserved name fails like a taken one.
 */
const RESERVATION_MARKER = 'reserved:';
export const reservationOf = (source: string): string => `${RESERVATION_MARKER}${source}`;
/** The source of a reservation (e.g. `kubesphere`), undefined when the value is a sub. */
export function reservationSource(owner: string | undefined): string | undefined {
  return owner?.startsWith(RESERVATION_MARKER) ? owner.slice(RESERVATION_MARKER.length) : undefined;
}

/** Longest a holder may keep an account's lock (a crashed holder frees it after this). */
const LOCK_TTL_SECONDS = 10;
/** How long to wait for another replica's update of the same account before giving up. */
const LOCK_WAIT_MS = 5000;

/** Reads an account, upgrading older schema versions (none yet: v1 is the first). */
export async function readAccount(durable: Records, sub: string): Promise<Account | undefined> {
  const raw = await durable.get<Account>(accountKey(sub));
  if (raw === undefined || raw === null || typeof raw !== 'object' || typeof raw.sub !== 'string') return undefined;
  return { ...raw, schemaVersion: raw.schemaVersion ?? ACCOUNT_SCHEMA_VERSION };
}

/** The owner (sub) of a username, current or former. */
export async function usernameOwner(durable: Records, name: string): Promise<string | undefined> {
  const owner = await durable.get<string>(usernameKey(name));
  return typeof owner === 'string' ? owner : undefined;
}

/**
 * Claims `name` for `sub`, first writer wins across replicas. Resolves to `fresh: true` when this
 * call created the claim, `fresh: false` when `sub` already owned it, undefined when someone else does.
 */
export async function claimUsername(durable: Records, name: string, sub: string): Promise<{ fresh: boolean } | undefined> {
  if (await durable.add(usernameKey(name), sub)) return { fresh: true };
  return (await usernameOwner(durable, name)) === sub ? { fresh: false } : undefined;
}

/** Runs `fn` holding the account's cross-replica lock. */
export async function withAccountLock<T>(store: Store, sub: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let attempt = 0; ; attempt += 1) {
    const lock = await store.lock(accountKey(sub), LOCK_TTL_SECONDS);
    if (lock) {
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    }
    if (Date.now() >= deadline) throw new AccountBusyError(sub);
    // Jittered backoff so replicas waiting on the same account do not retry in lockstep.
    await delay(Math.min(100, 5 * 2 ** attempt) * (0.5 + Math.random()));
  }
}

/** Locked read-modify-write of an existing account; `mutate` may throw to abort. */
export async function updateAccount(store: Store, sub: string, mutate: (account: Account) => Account): Promise<Account> {
  return withAccountLock(store, sub, async () => {
    const current = await readAccount(store.durable, sub);
    if (!current) throw new UnknownAccountError(sub);
    const next = mutate(current);
    await store.durable.set(accountKey(sub), next);
    return next;
  });
}
