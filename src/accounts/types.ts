/**
 * The durable account model (docs/architecture.md, "Accounts and claims"). An account outlives every login;
 * sessions, codes, tokens and grants are ephemeral and live in the store's `op:` namespace.
 */
import type { UpstreamIdentity } from '../upstreams/types.js';

/** A username reserved in the store (src/accounts/reservations.ts). */
export interface Reservation {
  username: string;
  /** Where the name came from: `kubesphere`, `list`, … */
  source: string;
}

/** What `reserve` did with each name. */
export interface ReserveResult {
  reserved: string[];
  /** Reserved before (by any source). */
  already: string[];
  /** A person of the bridge has (or had) the name: nothing to reserve, it is never given to anyone else. */
  owned: string[];
  invalid: string[];
}

/**
 * What `adopt` did: `created` (or `would-create` in a dry run) the account with that name, found it
 * already `exists` with that name, or a `clash` it leaves to the operator, with the reason.
 */
export interface AdoptResult {
  outcome: 'created' | 'would-create' | 'exists' | 'clash';
  sub: string;
  username: string;
  reason?: string;
}

export const ACCOUNT_SCHEMA_VERSION = 1;

export type AccountStatus = 'active' | 'left' | 'tombstoned';

export interface Account {
  schemaVersion: number;
  /** Hash of (linkDomain, linkKey): ≤ 63 chars, a valid Kubernetes label value. */
  sub: string;
  linkDomain: string;
  linkKey: string;
  /** preferred_username: lowercase DNS-1123, ≤ 32, unique, assigned once, never reused. */
  username: string;
  status: AccountStatus;
  /** Upstream id of the last login (informational; renaming an upstream changes nothing). */
  upstream: string;
  /** Snapshot of the last identity the upstream gave (connectorData included: never emitted). */
  profile: UpstreamIdentity;
  createdAt: number; // epoch seconds
  updatedAt: number;
  /** Last time the upstream confirmed this person (login, recheck). */
  checkedAt: number;
}

/** Per-client claim shaping (the client's `emitEmail` and `groups` config). */
export interface ClaimPolicy {
  emitEmail: 'verified' | 'any' | 'never';
  groups?: { prefix: string; allow?: string[]; max: number };
}

/** Where audit lines and warnings go: a pino logger fits. */
export interface AccountsLog {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
}

/** What revoking ended, and the account as it is afterwards. */
export interface RevokeResult {
  account: Account;
  grants: number;
  sessions: number;
}

/**
 * The accounts library. Every method works on any replica: the state is the store's `acct:`
 * records (`account:<sub>` → Account, `username:<name>` → sub), never process memory.
 * `ref` is a sub or a username (current or former).
 */
/** What the upstream a login came through vouches for (the interactions module derives it from the upstream). */
export interface LinkOptions {
  /**
   * The upstream checked, at this login, that the person belongs (an enforcing DingTalk upstream:
   * the organisation's contacts). Only then does an account marked `left` become active again;
   * otherwise link throws AccountLeftError. Default false.
   */
  confirmsMembership?: boolean;
}

export interface Accounts {
  /**
   * Login: finds or creates the account of (linkDomain, linkKey); throws AccountDisabledError when
   * tombstoned, AccountLeftError when marked left and the upstream did not confirm membership.
   */
  link(identity: UpstreamIdentity, options?: LinkOptions): Promise<Account>;
  get(sub: string): Promise<Account | undefined>;
  /** By current or former username (a former name stays its person's). */
  findByUsername(username: string): Promise<Account | undefined>;
  /** By sub, else by username. */
  find(ref: string): Promise<Account | undefined>;
  /** Every account, sorted by username. */
  list(): Promise<Account[]>;
  /** Gives the person a new username; the old one stays reserved for them. */
  rename(ref: string, newUsername: string): Promise<Account>;
  /** Ends every grant (with its tokens) and every browser session of the person now; status unchanged. */
  revoke(ref: string, options?: { reason?: string }): Promise<RevokeResult>;
  /**
   * The person left the organisation: status `left` (unless tombstoned), then revoke. A later login
   * reactivates only through an upstream that confirms membership (LinkOptions), or `reactivate`.
   */
  markLeft(ref: string, options?: { reason?: string }): Promise<RevokeResult>;
  /** Disables the account for good: status `tombstoned`, then revoke. Later logins are refused. */
  tombstone(ref: string, options?: { reason?: string }): Promise<RevokeResult>;
  /** The operator brings back an account marked left (`oidc-bridge accounts reactivate`); a tombstone stays. */
  reactivate(ref: string): Promise<Account>;
  /** A recheck confirmed the person: refreshes checkedAt and the profile snapshot. */
  markChecked(sub: string, identity: UpstreamIdentity): Promise<Account>;
  /**
   * Migration: creates the account of this identity, before their first login, with the name they
   * already have elsewhere. A name reserved in the store may be adopted; a name of another person,
   * a reserved or invalid one in the config, or a person who already has another name is a clash.
   * `dryRun` only reads.
   */
  adopt(identity: UpstreamIdentity, username: string, options?: { dryRun?: boolean }): Promise<AdoptResult>;
  /** Keeps names from every new person (they exist elsewhere already); see src/accounts/reservations.ts. */
  reserve(names: readonly string[], source: string): Promise<ReserveResult>;
  /** Lifts a reservation; false when the name was not reserved. */
  unreserve(name: string): Promise<boolean>;
  /** Every name reserved in the store. */
  reservations(): Promise<Reservation[]>;
}
