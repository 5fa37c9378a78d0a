import type { Records } from '../store/types.js';
import type { UpstreamIdentity } from '../upstreams/types.js';
import { claimUsername } from './account-records.js';
import { pinFor } from './username-pins.js';
import { usernameCandidates, suffixedUsername, usernameProblem, type UsernamePolicy } from './usernames.js';
import type { AccountsLog } from './types.js';

/** Beyond this many namesakes something is wrong (a loop, a flood): fail loudly instead. */
const MAX_SUFFIX = 10_000;

/**
 * Claims a username for a new person: their pin, else the first free candidate, else the first
 * candidate with the lowest free numeric suffix (wangfang2, wangfang3 …). Every claim is an atomic
 * first-writer-wins `add`, so two replicas never hand out one name twice; a name this sub already
 * holds (the same person arriving twice at once) counts as theirs.
 */
export async function assignUsername(
  durable: Records,
  policy: UsernamePolicy,
  log: AccountsLog,
  identity: UpstreamIdentity,
  sub: string,
): Promise<{ username: string; fresh: boolean }> {
  const pin = pinFor(policy.pins, identity);
  if (pin) {
    const claimed = await claimUsername(durable, pin.username, sub);
    if (claimed) return { username: pin.username, ...claimed };
    log.warn({ sub, username: pin.username, pin: pin.key }, 'pinned username already belongs to another account; using the candidates');
  }
  const { names, suffixBase } = usernameCandidates(identity, sub, policy);
  for (const name of names) {
    const claimed = await claimUsername(durable, name, sub);
    if (claimed) return { username: name, ...claimed };
  }
  for (let n = 2; n <= MAX_SUFFIX; n += 1) {
    const name = suffixedUsername(suffixBase, n);
    if (usernameProblem(name, policy, identity) !== undefined) continue;
    const claimed = await claimUsername(durable, name, sub);
    if (claimed) return { username: name, ...claimed };
  }
  throw new Error(`no free username for ${sub}: "${suffixBase}" and ${MAX_SUFFIX - 1} suffixed forms are taken`);
}
