/**
 * Reserved usernames kept in the store (`oidc-bridge accounts reserve`): names that exist elsewhere
 * already, e.g. KubeSphere's local users. KubeSphere 4.x attaches a login to an existing User of the
 * same name and 3.x locks the person out, so the bridge must never hand such a name to a new person
 * (docs/reference/kubernetes.md, "KubeSphere: users and claims"). Unlike `usernames.reserved` in the
 * config, these live in the store, so every replica sees them at once and thousands of names need
 * no config change. A reservation is the name's `username:` record holding a marker instead of a
 * sub: every automatic claim of it fails exactly like a taken name. Only `adopt` (migration: the
 * name goes to the person it already belongs to) and `unreserve` replace it.
 */
import type { Records } from '../store/types.js';
import { USERNAME_PREFIX, reservationOf, reservationSource, usernameKey, usernameOwner } from './account-records.js';
import { isValidUsername } from './usernames.js';
import type { Reservation, ReserveResult } from './types.js';

/** Reserves each name unless a person holds it; first writer wins, as for every username claim. */
export async function reserveUsernames(durable: Records, names: readonly string[], source: string): Promise<ReserveResult> {
  const result: ReserveResult = { reserved: [], already: [], owned: [], invalid: [] };
  for (const raw of new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => n !== ''))) {
    if (!isValidUsername(raw)) {
      // A name the bridge could never give out needs no reservation; say so rather than store it.
      result.invalid.push(raw);
      continue;
    }
    if (await durable.add(usernameKey(raw), reservationOf(source))) {
      result.reserved.push(raw);
      continue;
    }
    const owner = await usernameOwner(durable, raw);
    (reservationSource(owner) !== undefined ? result.already : result.owned).push(raw);
  }
  return result;
}

/** Lifts a reservation; false when the name was not reserved (a person's name is never released). */
export async function unreserveUsername(durable: Records, name: string): Promise<boolean> {
  const key = usernameKey(name.toLowerCase());
  if (reservationSource(await usernameOwner(durable, name.toLowerCase())) === undefined) return false;
  await durable.delete(key);
  return true;
}

/** Every reservation, sorted by name. */
export async function listReservations(durable: Records): Promise<Reservation[]> {
  const names = (await durable.keys(USERNAME_PREFIX)).map((key) => key.slice(USERNAME_PREFIX.length));
  const rows = await Promise.all(
    names.map(async (username) => ({ username, source: reservationSource(await usernameOwner(durable, username)) })),
  );
  return rows.filter((r): r is Reservation => r.source !== undefined).sort((a, b) => a.username.localeCompare(b.username));
}
