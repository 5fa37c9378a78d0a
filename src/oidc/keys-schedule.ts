// The timeline of signing keys: which key signs, which are only published, which are dropped.
//
// Per alg, keys take over from each other in order of activatesAt. A key signs from its own
// activation until its successor's; tokens it signed live at most maxTokenLifetime longer, so it
// stays published until then. A pending key is published before anyone signs with it, so relying
// parties that cache our JWKS already hold it when the first token arrives.
// See docs/architecture.md, "Decisions" (key rotation).
import { KEY_ALGS, type KeyAlg } from './keys-file.js';

export type KeyState = 'pending' | 'active' | 'retiring' | 'expired';

export interface ScheduledKey {
  kid: string;
  alg: KeyAlg;
  createdAt: Date;
  activatesAt: Date;
}

export interface KeySchedule<K extends ScheduledKey> {
  key: K;
  state: KeyState;
  /** When it stops being published: its successor's activation + maxTokenLifetime; undefined without a successor. */
  retiresAt?: Date;
}

function byActivation(a: ScheduledKey, b: ScheduledKey): number {
  return (
    a.activatesAt.getTime() - b.activatesAt.getTime() ||
    a.createdAt.getTime() - b.createdAt.getTime() ||
    (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0)
  );
}

/** State of every key at `now`, grouped by alg (RS256 first), each group in activation order. */
export function scheduleKeys<K extends ScheduledKey>(keys: readonly K[], now: Date, maxTokenLifetimeSeconds: number): KeySchedule<K>[] {
  return KEY_ALGS.flatMap((alg) => {
    const sameAlg = keys.filter((key) => key.alg === alg).sort(byActivation);
    return sameAlg.map((key, i) => {
      const successor = sameAlg[i + 1];
      const retiresAt = successor && new Date(successor.activatesAt.getTime() + maxTokenLifetimeSeconds * 1000);
      let state: KeyState;
      if (key.activatesAt > now) state = 'pending';
      else if (!successor || successor.activatesAt > now) state = 'active';
      else state = retiresAt! > now ? 'retiring' : 'expired';
      return retiresAt ? { key, state, retiresAt } : { key, state };
    });
  });
}

/**
 * The published keys in the order oidc-provider needs: it signs with the first key of an alg.
 * Per alg: the active key, then pending keys (soonest first), then retiring ones (newest first).
 * With no active key of an alg (only pending ones) the soonest pending key comes first and signs.
 */
export function publicationOrder<K extends ScheduledKey>(schedule: readonly KeySchedule<K>[]): K[] {
  const rank: Record<KeyState, number> = { active: 0, pending: 1, retiring: 2, expired: 3 };
  return KEY_ALGS.flatMap((alg: KeyAlg) =>
    schedule
      .filter((entry) => entry.key.alg === alg && entry.state !== 'expired')
      .sort((a, b) => rank[a.state] - rank[b.state] || (a.state === 'retiring' ? byActivation(b.key, a.key) : byActivation(a.key, b.key)))
      .map((entry) => entry.key),
  );
}

/** The earliest instant after `now` where the schedule changes: a pending key activates or a retiring one expires. */
export function nextChange(schedule: readonly KeySchedule<ScheduledKey>[], now: Date): Date | undefined {
  const instants = schedule
    .flatMap((entry) => [entry.key.activatesAt, entry.retiresAt])
    .filter((at): at is Date => at !== undefined && at > now)
    .map((at) => at.getTime());
  return instants.length ? new Date(Math.min(...instants)) : undefined;
}
