/**
 * UpstreamIdentity → durable account (docs/architecture.md, "Accounts and claims"). People are linked only by
 * (linkDomain, linkKey): never by email or mobile number, which people change and reuse.
 */
import type { Store } from '../store/types.js';
import type { UpstreamIdentity } from '../upstreams/types.js';
import {
  ACCOUNT_PREFIX,
  accountKey,
  claimUsername,
  linkAliasKey,
  readAccount,
  reservationSource,
  updateAccount,
  updateAccountIfAny,
  usernameKey,
  usernameOwner,
} from './account-records.js';
import { assignUsername } from './assign-username.js';
import {
  AccountDisabledError,
  AccountLeftError,
  InvalidUsernameError,
  SubjectCollisionError,
  UnknownAccountError,
  UsernameTakenError,
} from './errors.js';
import { listReservations, reserveUsernames, unreserveUsername } from './reservations.js';
import { legacySubjectOf, subjectFor } from './subject.js';
import { usernamePolicy, usernameProblem, type UsernamesConfig } from './usernames.js';
import {
  ACCOUNT_SCHEMA_VERSION,
  type Account,
  type AccountStatus,
  type Accounts,
  type AdoptResult,
  type AccountsLog,
  type LinkOptions,
  type RevokeResult,
} from './types.js';

export interface AccountsDeps {
  store: Store;
  usernames: UsernamesConfig;
  /** Upstreams that do not vouch for usernames, id → the prefix their people's names carry (`usernamePrefixesOf`). */
  unvouchedUpstreams?: ReadonlyMap<string, string>;
  log: AccountsLog;
  /**
   * Upstreams (by id) with `legacySubject`: an account first seen through one of them keeps the
   * upstream's own subject as its `sub`, for relying parties that stored it and cannot be relabelled.
   */
  legacySubjectUpstreams?: ReadonlySet<string>;
  /** Clock in epoch seconds (tests). */
  now?: () => number;
}

/** Builds the accounts library; throws UsernameConfigError for unusable `usernames.pins`. */
export function createAccounts({
  store,
  usernames,
  unvouchedUpstreams,
  log,
  legacySubjectUpstreams = new Set(),
  now = () => Math.floor(Date.now() / 1000),
}: AccountsDeps): Accounts {
  const policy = usernamePolicy(usernames, unvouchedUpstreams);
  const { durable } = store;

  const get = (sub: string) => readAccount(durable, sub);
  const findByUsername = async (username: string) => {
    const owner = await usernameOwner(durable, username.toLowerCase());
    return owner === undefined ? undefined : get(owner);
  };
  const find = async (ref: string) => (await get(ref)) ?? findByUsername(ref);
  const mustFind = async (ref: string) => {
    const account = await find(ref);
    if (!account) throw new UnknownAccountError(ref);
    return account;
  };

  /**
   * The sub of this person's account, if they have one: the derived sub, or the one a `legacySubject`
   * upstream gave it (found through the `link:` alias). Refuses an account of another person.
   */
  async function existingAccountOf(identity: UpstreamIdentity): Promise<Account | undefined> {
    const account = await get(await currentSubOf(identity));
    if (account) assertSamePerson(account, identity);
    return account;
  }

  /** The derived sub, or the `legacySubject` one its `link:` alias names. */
  async function currentSubOf(identity: UpstreamIdentity): Promise<string> {
    const derived = subjectFor(identity.linkDomain, identity.linkKey);
    const alias = await durable.get<string>(linkAliasKey(derived));
    return typeof alias === 'string' ? alias : derived;
  }

  /** The sub of a new account: derived, or the upstream's own subject under `legacySubject`. */
  function newSubjectOf(identity: UpstreamIdentity): string {
    const derived = subjectFor(identity.linkDomain, identity.linkKey);
    if (!legacySubjectUpstreams.has(identity.upstream)) return derived;
    const legacy = legacySubjectOf(identity.subject);
    if (legacy === undefined) log.warn({ upstream: identity.upstream }, 'legacySubject: subject unusable as a sub; using the derived sub');
    return legacy ?? derived;
  }

  /** Two upstreams giving one subject value (legacySubject) must never share an account. */
  function assertSamePerson(account: Account, identity: UpstreamIdentity): void {
    if (account.linkDomain !== identity.linkDomain || account.linkKey !== identity.linkKey) {
      throw new SubjectCollisionError(identity.upstream, account.sub, account.linkDomain);
    }
  }

  async function create(identity: UpstreamIdentity, sub: string, fixed?: string): Promise<Account> {
    const { username, fresh } =
      fixed === undefined ? await assignUsername(durable, policy, log, identity, sub) : { username: fixed, fresh: true };
    const t = now();
    const account: Account = {
      schemaVersion: ACCOUNT_SCHEMA_VERSION,
      sub,
      linkDomain: identity.linkDomain,
      linkKey: identity.linkKey,
      username,
      status: 'active',
      upstream: identity.upstream,
      profile: identity,
      createdAt: t,
      updatedAt: t,
      checkedAt: t,
    };
    const derived = subjectFor(identity.linkDomain, identity.linkKey);
    if (await durable.add(accountKey(sub), account)) {
      if (sub !== derived) await durable.set(linkAliasKey(derived), sub);
      log.info({ audit: 'account.create', sub, username, upstream: identity.upstream });
      return account;
    }
    // The same person arrived twice at once and the other call stored the account first.
    const winner = (await get(sub))!;
    if (fresh && winner.username !== username && fixed === undefined) await durable.delete(usernameKey(username));
    assertSamePerson(winner, identity);
    if (sub !== derived) await durable.set(linkAliasKey(derived), sub);
    return winner;
  }

  async function adopt(identity: UpstreamIdentity, username: string, { dryRun = false } = {}): Promise<AdoptResult> {
    const problem = usernameProblem(username, policy, identity);
    const existing = await existingAccountOf(identity);
    const sub = existing?.sub ?? newSubjectOf(identity);
    if (problem !== undefined) return { outcome: 'clash', sub, username, reason: `"${username}" cannot be given: ${problem}` };
    if (existing) {
      return existing.username === username
        ? { outcome: 'exists', sub, username }
        : {
            outcome: 'clash',
            sub,
            username,
            reason: `this person already has the account "${existing.username}" (oidc-bridge accounts rename ${existing.username} ${username})`,
          };
    }
    const owner = await usernameOwner(durable, username);
    if (owner !== undefined && owner !== sub && reservationSource(owner) === undefined) {
      const holder = await get(owner);
      return {
        outcome: 'clash',
        sub,
        username,
        reason: `"${username}" belongs to another account (${holder?.username ?? owner}, sub ${owner})`,
      };
    }
    if (dryRun) return { outcome: 'would-create', sub, username };
    // The name was free, reserved for migration, or already this sub's: it goes to this person.
    if (!(await durable.add(usernameKey(username), sub))) {
      const holder = await usernameOwner(durable, username);
      if (reservationSource(holder) !== undefined) await durable.set(usernameKey(username), sub);
      else if (holder !== sub) throw new UsernameTakenError(username);
    }
    const account = await create(identity, sub, username);
    if (account.username !== username) return { outcome: 'clash', sub, username, reason: `created meanwhile as "${account.username}"` };
    log.info({ audit: 'account.adopt', sub, username, upstream: identity.upstream });
    return { outcome: 'created', sub, username };
  }

  /** A left account comes back only when the login's upstream confirmed membership just now. */
  function refuseInactive(account: Account, options: LinkOptions): void {
    if (account.status === 'tombstoned') throw new AccountDisabledError(account.sub);
    if (account.status === 'left' && options.confirmsMembership !== true) throw new AccountLeftError(account.sub);
  }

  async function link(identity: UpstreamIdentity, options: LinkOptions = {}): Promise<Account> {
    if (!identity.linkDomain || !identity.linkKey)
      throw new TypeError(`upstream ${identity.upstream} gave an identity without linkDomain/linkKey`);
    const sub = await currentSubOf(identity);
    // One read and one compare-and-set for a returning person: the login path of nearly every sign-in.
    let before: AccountStatus = 'active';
    const linked = await updateAccountIfAny(durable, sub, (account) => {
      assertSamePerson(account, identity);
      refuseInactive(account, options);
      before = account.status;
      const t = now();
      return { ...account, status: 'active', upstream: identity.upstream, profile: identity, updatedAt: t, checkedAt: t };
    });
    if (!linked) return create(identity, newSubjectOf(identity));
    if (before !== 'active') log.info({ audit: 'account.reactivate', sub, username: linked.username, from: before });
    return linked;
  }

  async function rename(ref: string, newUsername: string): Promise<Account> {
    const account = await mustFind(ref);
    const problem = usernameProblem(newUsername, policy, account.profile);
    if (problem !== undefined) throw new InvalidUsernameError(newUsername, problem);
    if (account.username === newUsername) return account;
    if (!(await claimUsername(durable, newUsername, account.sub))) throw new UsernameTakenError(newUsername);
    let from = account.username;
    const renamed = await updateAccount(durable, account.sub, (current) => {
      from = current.username;
      return { ...current, username: newUsername, updatedAt: now() };
    });
    log.info({ audit: 'account.rename', sub: account.sub, from, to: newUsername });
    return renamed;
  }

  async function revoke(ref: string, { reason = 'manual' }: { reason?: string } = {}): Promise<RevokeResult> {
    const account = await mustFind(ref);
    const { grants, sessions } = await store.revokeAccount(account.sub);
    log.info({ audit: 'account.revoke', sub: account.sub, username: account.username, reason, grants, sessions });
    return { account, grants, sessions };
  }

  /** Sets the status first, so a session reused meanwhile already sees it, then ends everything. */
  async function setStatusAndRevoke(ref: string, status: AccountStatus, reason: string): Promise<RevokeResult> {
    const { sub } = await mustFind(ref);
    let from: AccountStatus = status;
    await updateAccount(durable, sub, (current) => {
      from = current.status;
      const next = current.status === 'tombstoned' ? 'tombstoned' : status;
      return { ...current, status: next, updatedAt: now() };
    });
    log.info({ audit: `account.${status === 'left' ? 'left' : 'tombstone'}`, sub, from, reason });
    return revoke(sub, { reason });
  }

  async function reactivate(ref: string): Promise<Account> {
    const { sub } = await mustFind(ref);
    let from: AccountStatus = 'active';
    const account = await updateAccount(durable, sub, (current) => {
      if (current.status === 'tombstoned') throw new AccountDisabledError(sub);
      from = current.status;
      return current.status === 'active' ? current : { ...current, status: 'active', updatedAt: now() };
    });
    if (from !== 'active') log.info({ audit: 'account.reactivate', sub, username: account.username, from, reason: 'operator' });
    return account;
  }

  async function markChecked(sub: string, identity: UpstreamIdentity): Promise<Account> {
    if ((await currentSubOf(identity)) !== sub) {
      throw new TypeError(`identity of ${identity.upstream} does not belong to account ${sub}`);
    }
    return updateAccount(durable, sub, (account) => {
      const t = now();
      return { ...account, upstream: identity.upstream, profile: identity, updatedAt: t, checkedAt: t };
    });
  }

  return {
    link,
    get,
    findByUsername,
    find,
    rename,
    revoke,
    reactivate,
    markChecked,
    adopt,
    reserve: (names, source) => reserveUsernames(durable, names, source),
    unreserve: (name) => unreserveUsername(durable, name),
    reservations: () => listReservations(durable),
    async list() {
      const subs = (await durable.keys(ACCOUNT_PREFIX)).map((key) => key.slice(ACCOUNT_PREFIX.length));
      const accounts = await Promise.all(subs.map(get));
      return accounts.filter((a): a is Account => a !== undefined).sort((a, b) => a.username.localeCompare(b.username));
    },
    markLeft: (ref, options) => setStatusAndRevoke(ref, 'left', options?.reason ?? 'left'),
    tombstone: (ref, options) => setStatusAndRevoke(ref, 'tombstoned', options?.reason ?? 'tombstone'),
  };
}
