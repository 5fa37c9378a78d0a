/**
 * The store contract. Everything that must survive a restart or be seen by another replica goes
 * through it: oidc-provider's models (sessions, interactions, codes, tokens, grants), our own
 * short-lived records (upstream-leg state, cached upstream tokens, locks) and the durable account
 * records. Two implementations: `memory` (one process) and `redis` (standalone, Sentinel, Cluster).
 */

/** A model payload exactly as oidc-provider hands it to an adapter. */
export type Payload = Record<string, unknown>;

/** Thrown by `consume()` when the record was already consumed (or is gone): the loser of a race. */
export class AlreadyConsumedError extends Error {
  override name = 'AlreadyConsumedError';
  constructor(readonly model: string) {
    super(`${model} already consumed`);
  }
}

/** Thrown by `Records.update` when other writers changed the record every time it tried. */
export class RecordContendedError extends Error {
  override name = 'RecordContendedError';
  constructor(readonly key: string) {
    super(`record ${key} kept changing under the update`);
  }
}

/** Thrown by any store call while the backing store cannot be reached. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  readonly status = 503;
  constructor(message = 'the session store is unreachable', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * One oidc-provider model (`Session`, `Grant`, `AuthorizationCode`, …): the Adapter interface of
 * oidc-provider 9, minus the class shape. See
 * https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/adapters/memory_adapter.js.
 */
export interface ModelStore {
  upsert(id: string, payload: Payload, expiresIn: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  /** Atomic: exactly one caller succeeds; every other one gets AlreadyConsumedError. */
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** A namespaced key/value map of JSON values. TTLs are in seconds; no TTL means "keep". */
export interface Records {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, ttlSeconds?: number): Promise<void>;
  /** Set only when absent; true when this call created it (first-writer-wins claims, locks). */
  add<T>(key: string, value: T, ttlSeconds?: number): Promise<boolean>;
  /**
   * Optimistic read-modify-write of one record (compare-and-set, no lock): `next` gets the current
   * value (undefined when absent) and returns the one to store; returning the very value it was
   * given writes nothing. When another writer changed the record in between, `next` runs again on
   * the newer value, so it must have no effects beyond its result. A new record gets no TTL; a
   * replaced one keeps its own. Resolves to what is stored; rejects with what `next` throws, and
   * with RecordContendedError after a few dozen lost races in a row.
   */
  update<T>(key: string, next: (current: T | undefined) => T | undefined): Promise<T | undefined>;
  /** Atomic read-and-delete: single-use records (upstream `state`). */
  take<T>(key: string): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  /** Every key of this namespace starting with `prefix` (unordered; for admin listings and sweeps). */
  keys(prefix?: string): Promise<string[]>;
}

export type StoreHealth = 'up' | 'down';

export interface RateLimit {
  /** Requests allowed per key within one window. */
  points: number;
  durationSeconds: number;
}

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /**
   * Counts one request for `key`. Rejects with StoreUnavailableError while the store cannot be
   * reached: the caller decides what an unknown count means.
   */
  consume(key: string): Promise<RateLimitDecision>;
}

export interface Store {
  readonly kind: 'memory' | 'redis';
  /** oidc-provider model storage; `name` is the model name oidc-provider passes to the adapter. */
  model(name: string): ModelStore;
  /** Durable records (accounts, usernames): never expire on their own. Key namespace `acct:`. */
  readonly durable: Records;
  /** Ephemeral records (upstream-leg state, caches, refresh replies). Key namespace `tmp:`. */
  readonly ephemeral: Records;
  /** Ends everything a person has: every Grant (with its tokens) and every Session of the account. */
  revokeAccount(accountId: string): Promise<{ grants: number; sessions: number }>;
  /** Account ids that currently hold at least one live grant (for the membership sweep). */
  accountsWithGrants(): Promise<string[]>;
  /** A best-effort mutual-exclusion lock across replicas; undefined when another holder has it. */
  lock(name: string, ttlSeconds: number): Promise<{ release(): Promise<void> } | undefined>;
  /**
   * A rate limiter counting under `rl:<name>:`: shared by every replica on Redis, per process on
   * memory. Its `consume` rejects with StoreUnavailableError while the store is down.
   */
  rateLimiter(name: string, limit: RateLimit): RateLimiter;
  /** Current health; 'down' while the backing store is unreachable. */
  health(): StoreHealth;
  /** Each change of health; a 'down' reported because a connection attempt failed carries its error. */
  onHealthChange(listener: (health: StoreHealth, cause?: unknown) => void): void;
  /** Round trip to the backing store; rejects with StoreUnavailableError when down. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
