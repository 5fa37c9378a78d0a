import type { Backend, ConsumeOutcome, StoredDoc } from './backend.js';
import { composeStore } from './compose-store.js';
import { memoryRateLimiter } from './rate-limits.js';
import type { Store } from './types.js';

export interface MemoryStoreOptions {
  /** How often expired entries are purged, in ms (reads purge lazily as well). Default 60 000. */
  sweepIntervalMs?: number;
  /** The clock, epoch ms; tests pass a fake one. Default `Date.now`. */
  now?: () => number;
  /** Called after each periodic sweep with the number of entries purged (for tests and metrics). */
  onSweep?: (purged: number) => void;
}

/** The in-process store: one process only, nothing survives a restart. */
export interface MemoryStore extends Store {
  readonly kind: 'memory';
  /** Entries currently held, expired-but-not-yet-purged ones included. */
  size(): number;
  /** Purges every expired entry now; the number purged. */
  sweep(): number;
}

type Entry =
  | { type: 'string'; value: string; expiresAt: number }
  | { type: 'doc'; doc: StoredDoc; expiresAt: number }
  /** `earliest`: no member expires before it (a lower bound), so reads prune only when one may have. */
  | { type: 'index'; members: Map<string, number>; expiresAt: number; earliest: number };

const expiryOf = (now: number, ttlMs: number | undefined): number => (ttlMs === undefined ? Infinity : now + ttlMs);

/**
 * Drops expired members; the set's expiry is its last member's. A walk over the members only when
 * one may have expired: an account's index can hold thousands (a CI robot's sessions), and it is
 * read on every login and grant of that account.
 */
function pruneIndex(entry: Extract<Entry, { type: 'index' }>, now: number): void {
  if (entry.earliest > now) return;
  let last = -Infinity;
  let earliest = Infinity;
  for (const [member, expiresAt] of entry.members) {
    if (expiresAt <= now) entry.members.delete(member);
    else {
      last = Math.max(last, expiresAt);
      earliest = Math.min(earliest, expiresAt);
    }
  }
  entry.expiresAt = last;
  entry.earliest = earliest;
}

/**
 * A Map with per-entry expiry. Unlike oidc-provider's bundled adapter (an LRU of 1,000 entries)
 * it never evicts a live entry: evicting a Session or Grant would log people out or break
 * revocation. Every method is synchronous inside, so check-and-set steps cannot interleave.
 */
function memoryBackend(options: MemoryStoreOptions) {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  /** The entry unless it has expired, in which case it is purged (the lazy half of expiry). */
  function unexpired(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.type === 'index') pruneIndex(entry, now());
    if (entry.expiresAt > now()) return entry;
    entries.delete(key);
    return undefined;
  }

  function live<T extends Entry['type']>(key: string, type: T): Extract<Entry, { type: T }> | undefined {
    const entry = unexpired(key);
    return entry?.type === type ? (entry as Extract<Entry, { type: T }>) : undefined;
  }

  function sweep(): number {
    const before = entries.size;
    for (const key of [...entries.keys()]) unexpired(key);
    return before - entries.size;
  }

  const timer = setInterval(() => options.onSweep?.(sweep()), options.sweepIntervalMs ?? 60_000);
  timer.unref();

  const backend: Backend = {
    kind: 'memory',
    now,
    async readDoc(key) {
      const doc = live(key, 'doc')?.doc;
      return doc && { ...doc };
    },
    async writeDoc(key, payload, ttlMs) {
      const consumed = live(key, 'doc')?.doc.consumed;
      const doc: StoredDoc = consumed === undefined ? { payload } : { payload, consumed };
      entries.set(key, { type: 'doc', doc, expiresAt: expiryOf(now(), ttlMs) });
    },
    async consumeDoc(key, at): Promise<ConsumeOutcome> {
      const entry = live(key, 'doc');
      if (!entry) return 'missing';
      if (entry.doc.consumed !== undefined) return 'consumed';
      entry.doc.consumed = at;
      return 'won';
    },
    get: async (key) => live(key, 'string')?.value,
    async set(key, value, ttlMs) {
      entries.set(key, { type: 'string', value, expiresAt: expiryOf(now(), ttlMs) });
    },
    async setIfAbsent(key, value, ttlMs) {
      if (unexpired(key)) return false;
      entries.set(key, { type: 'string', value, expiresAt: expiryOf(now(), ttlMs) });
      return true;
    },
    async take(key) {
      const value = live(key, 'string')?.value;
      if (value !== undefined) entries.delete(key);
      return value;
    },
    async del(key) {
      entries.delete(key);
    },
    async delIfEquals(key, value) {
      if (live(key, 'string')?.value !== value) return false;
      return entries.delete(key);
    },
    async replaceIfEquals(key, expected, value) {
      const entry = live(key, 'string');
      if (entry?.value !== expected) return false;
      entry.value = value;
      return true;
    },
    async indexAdd(key, member, expiresAt) {
      const entry = live(key, 'index') ?? { type: 'index' as const, members: new Map<string, number>(), expiresAt, earliest: expiresAt };
      entry.members.set(member, expiresAt);
      // A member's expiry may move either way (set again with another): the bounds stay bounds.
      entry.expiresAt = Math.max(entry.expiresAt, expiresAt);
      entry.earliest = Math.min(entry.earliest, expiresAt);
      pruneIndex(entry, now());
      if (entry.members.size > 0) entries.set(key, entry);
    },
    async indexRemove(key, member) {
      const entry = live(key, 'index');
      if (!entry) return;
      entry.members.delete(member);
      if (entry.members.size === 0) entries.delete(key);
    },
    indexMembers: async (key) => [...(live(key, 'index')?.members.keys() ?? [])],
    async scan(prefix) {
      return [...entries.keys()].filter((key) => key.startsWith(prefix) && unexpired(key) !== undefined);
    },
    rateLimiter: memoryRateLimiter,
    health: () => 'up',
    onHealthChange() {
      // Memory is always reachable: health never changes.
    },
    async ping() {},
    async close() {
      clearInterval(timer);
    },
  };
  return { backend, size: () => entries.size, sweep };
}

export function openMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const { backend, size, sweep } = memoryBackend(options);
  return { ...composeStore(backend), kind: 'memory', size, sweep };
}
