/**
 * The durable record layout of accounts, in the store's `acct:` namespace:
 *
 *   account:<sub>      → Account JSON (with schemaVersion)
 *   username:<name>    → sub of the person the name belongs to (now or formerly; never released),
 *                        or `reserved:<source>`: a name kept from everyone (`accounts reserve`)
 *   link:<derived sub> → the sub of an account created with its upstream's own sub (`legacySubject`)
 *
 * Read-modify-write of an account is a compare-and-set on its record (`Records.update`), so a
 * login on one replica cannot overwrite a tombstone or a rename made at the same moment on
 * another: the later write sees the earlier one and applies its change on top.
 */
import { RecordContendedError, type Records } from '../store/types.js';
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

/** Reads an account, upgrading older schema versions (none yet: v1 is the first). */
export async function readAccount(durable: Records, sub: string): Promise<Account | undefined> {
  return upgraded(await durable.get<Account>(accountKey(sub)));
}

function upgraded(raw: Account | undefined): Account | undefined {
  if (raw === undefined || raw === null || typeof raw !== 'object' || typeof raw.sub !== 'string') return undefined;
  return raw.schemaVersion === undefined ? { ...raw, schemaVersion: ACCOUNT_SCHEMA_VERSION } : raw;
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

/**
 * Read-modify-write of an account, if there is one (undefined when not). `mutate` may throw to
 * abort, and may run more than once (after a concurrent write), so it must have no effects beyond
 * its result; returning the account it was given writes nothing.
 */
export async function updateAccountIfAny(
  durable: Records,
  sub: string,
  mutate: (account: Account) => Account,
): Promise<Account | undefined> {
  try {
    const stored = await durable.update<Account>(accountKey(sub), (raw) => {
      const current = upgraded(raw);
      if (!current) return raw;
      const next = mutate(current);
      return next === current ? raw : next;
    });
    return upgraded(stored);
  } catch (err) {
    if (err instanceof RecordContendedError) throw new AccountBusyError(sub);
    throw err;
  }
}

/** Read-modify-write of an existing account (updateAccountIfAny); UnknownAccountError when there is none. */
export async function updateAccount(durable: Records, sub: string, mutate: (account: Account) => Account): Promise<Account> {
  const updated = await updateAccountIfAny(durable, sub, mutate);
  if (!updated) throw new UnknownAccountError(sub);
  return updated;
}
