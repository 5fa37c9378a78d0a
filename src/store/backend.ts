import type { RateLimit, RateLimiter, StoreHealth } from './types.js';

/** A stored oidc-provider model: the payload as JSON and, once consumed, when (epoch seconds). */
export interface StoredDoc {
  payload: string;
  consumed?: number;
}

/** An index entry a document needs: a member of an expiring set (`indexAdd`) or a key pointing at it (`set`). */
export type IndexEntry =
  | { kind: 'member'; key: string; member: string; expiresAt: number }
  | { kind: 'pointer'; key: string; value: string; ttlMs: number | undefined };

/** What `consumeDoc` found: this call won, someone else won first, or there is nothing to consume. */
export type ConsumeOutcome = 'won' | 'consumed' | 'missing';

/**
 * The primitives both backends provide; the store semantics (indexes, revocation, records, locks)
 * are written once on top of them (model-store.ts, compose-store.ts), so memory and Redis behave
 * alike. Every primitive touches exactly one key, but for the optional `writeIndexedDoc`. TTLs are
 * milliseconds; `undefined` means none.
 * Keys are relative: a backend adds its own prefix.
 */
export interface Backend {
  readonly kind: 'memory' | 'redis';
  /** The clock (epoch ms) expiries are computed with. */
  now(): number;
  readDoc(key: string): Promise<StoredDoc | undefined>;
  /** Replaces the payload and TTL; an existing consumed mark is kept (consumption is final). */
  writeDoc(key: string, payload: string, ttlMs: number | undefined): Promise<void>;
  /**
   * Optional, where the backend can do it in one step (a single Redis node or Sentinel, not a
   * Cluster, whose keys live in different slots): the index entries, then the document, in one
   * script. An entry that fails raises before the document is written (entries written before it
   * stay: a script is not rolled back). Resolves false, having written nothing, when the server
   * turns out to refuse multi-key scripts (slots enforced); model-store.ts then writes the entries
   * and the document in two steps with the same order, as it does without this method.
   */
  writeIndexedDoc?(key: string, payload: string, ttlMs: number | undefined, entries: readonly IndexEntry[]): Promise<boolean>;
  /** Atomic: of all concurrent callers exactly one gets 'won'. */
  consumeDoc(key: string, at: number): Promise<ConsumeOutcome>;

  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number | undefined): Promise<void>;
  /** Set only when absent; true when this call created it. */
  setIfAbsent(key: string, value: string, ttlMs: number | undefined): Promise<boolean>;
  /** Atomic read-and-delete. */
  take(key: string): Promise<string | undefined>;
  del(key: string): Promise<void>;
  /** Deletes only while the value is still `value`; true when it deleted. */
  delIfEquals(key: string, value: string): Promise<boolean>;
  /** Replaces the value only while it is still `expected`, keeping its TTL; true when it replaced. */
  replaceIfEquals(key: string, expected: string, value: string): Promise<boolean>;

  /**
   * An expiring set: each member carries its own expiry (epoch ms, Infinity for none); expired
   * members are pruned on add and never returned, and the set itself expires with its last member.
   */
  indexAdd(key: string, member: string, expiresAt: number): Promise<void>;
  indexRemove(key: string, member: string): Promise<void>;
  indexMembers(key: string): Promise<string[]>;

  /** Every key starting with `prefix` (relative, unordered, no duplicates). */
  scan(prefix: string): Promise<string[]>;

  /** A rate limiter whose counters live in this backend (rate-limits.ts). */
  rateLimiter(name: string, limit: RateLimit): RateLimiter;

  health(): StoreHealth;
  onHealthChange(listener: (health: StoreHealth, cause?: unknown) => void): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}
