/**
 * Is the person still allowed in? (docs/architecture.md, "Decisions": where rechecks happen, the
 * grace window.) Asks the account's upstream (only upstreams with `recheck`, e.g. DingTalk's
 * organisation contacts), always through the same check:
 * - on every winning refresh (`onRefresh`, no cache),
 * - when a browser session is reused after `recheckAfter` (`needsRecheck` → `recheckNow`),
 * - and periodically for every account holding grants (`sweep`, one replica at a time), so a
 *   person who left loses access even if no client ever refreshes.
 * oauth2 and oidc upstreams cannot be asked: for them a reused session is due after their
 * `recheckAfter` as well, and the person goes through the upstream again (src/interactions/
 * login-prompt.ts); a refresh is 'expired' once its sign-in is older than `ttl.sessionAbsolute`.
 *
 * Outcomes:
 * - 'ok'          the upstream confirmed the person; the profile snapshot and checkedAt are updated.
 * - 'revoked'     the person left: the account is marked left, which ends every grant and browser
 *                 session (store.revokeAccount). Also for accounts already left or tombstoned.
 * - 'unavailable' the upstream could not answer and the last good check is within `recheckGrace`:
 *                 keep the grant (a refresh answers 503 temporarily_unavailable, a reused browser
 *                 session is accepted).
 * - 'expired'     the upstream could not answer and the last good check is older than
 *                 `recheckGrace` (or the account's upstream is no longer configured, or its identity
 *                 no longer maps to this account): refuse this refresh (invalid_grant) or this session
 *                 reuse, but do NOT mark the person left — DingTalk being down says nothing about them.
 * The protocol layer maps 'revoked' and 'expired' to invalid_grant and 'unavailable' to 503.
 *
 * Times are epoch seconds, like Account.checkedAt; durations come from the upstream's config.
 */
import { RECHECK_DEFAULTS, type UpstreamConfig } from '../config/schema.js';
import type { Store } from '../store/types.js';
import { UpstreamError, type Upstream, type UpstreamIdentity } from '../upstreams/types.js';
import type { Account, AccountsLog } from './types.js';

export type RecheckOutcome = 'ok' | 'revoked' | 'unavailable' | 'expired';
/** A recheck's outcome, with what the upstream threw when it could not answer ('unavailable' or 'expired'). */
export interface RecheckAnswer {
  outcome: RecheckOutcome;
  failure?: unknown;
}
/** What asked: a refresh, a reused browser session, or the periodic sweep. */
export type RecheckTrigger = 'refresh' | 'session' | 'sweep';
/** completed; stopped early (upstream failing); skipped (another replica holds the lock); failed (threw). */
export type SweepOutcome = 'completed' | 'stopped' | 'skipped' | 'failed';

/** Counters for the operator (src/server/metrics.ts implements them); the default counts nothing. */
export interface MembershipMetrics {
  /** Only checks the upstream was asked for (or refused: left, tombstoned, unknown upstream). */
  recheckFinished(upstream: string, trigger: RecheckTrigger, outcome: RecheckOutcome): void;
  sweepFinished(outcome: SweepOutcome): void;
  /** The account was marked left because the upstream said the person is gone. */
  accountOffboarded(upstream: string): void;
}

const noMetrics: MembershipMetrics = { recheckFinished() {}, sweepFinished() {}, accountOffboarded() {} };

/** The part of the accounts library membership uses (createAccounts satisfies it). */
export interface MembershipAccounts {
  get(sub: string): Promise<Account | undefined>;
  markChecked(sub: string, identity: UpstreamIdentity): Promise<unknown>;
  markLeft(sub: string, options?: { reason?: string }): Promise<unknown>;
  list?(): Promise<Account[]>;
}

export interface MembershipDeps {
  accounts: MembershipAccounts;
  upstreams: { get(id: string): Upstream | undefined; all(): Upstream[] };
  store: Store;
  configs: UpstreamConfig[];
  log: AccountsLog;
  /** Epoch seconds (tests). */
  now?: () => number;
  metrics?: MembershipMetrics;
  /**
   * `ttl.sessionAbsolute`, seconds: a refresh of a grant from an upstream that cannot be asked is
   * refused once its sign-in is this old. Default: no limit.
   */
  sessionAbsolute?: number;
}

export interface SweepResult {
  /** false when another replica held the sweep lock and this call did nothing. */
  ran: boolean;
  checked: number;
  revoked: number;
  /** Accounts the upstream could not answer for ('unavailable' or 'expired'); nothing was changed for them. */
  unavailable: number;
}

export interface Membership {
  /** A winning refresh-token redemption: ask the upstream now (`authTime`: the grant's sign-in, epoch seconds). */
  onRefresh(account: Account, authTime?: number): Promise<RecheckOutcome>;
  /** Whether a reused browser session must be rechecked first (`loginTs`: the session's login, epoch seconds). */
  needsRecheck(sub: string, loginTs?: number): Promise<boolean>;
  /** The same check as onRefresh, for session reuse: an 'expired' without `failure` means a fresh login must decide. */
  recheckNow(account: Account): Promise<RecheckAnswer>;
  /** Rechecks every account holding grants, unless another replica is sweeping. */
  sweep(): Promise<SweepResult>;
  /** Runs `sweep` every min(sweepInterval) of the DingTalk upstreams (0 = off) on an unref'd timer. */
  startSweeper(): { stop(): void };
}

const SWEEP_LOCK = 'membership-sweep';
const SWEEP_LOCK_DEFAULT_TTL = 3600;
/** A sweep stops early after this many upstream failures in a row: no point hammering a DingTalk that is down or throttling. */
const SWEEP_MAX_FAILURES_IN_A_ROW = 5;

interface Timing {
  recheckAfter: number;
  recheckGrace: number;
  sweepInterval: number;
}

function timingOf(config: UpstreamConfig | undefined): Timing {
  if (config?.type === 'dingtalk') {
    return { recheckAfter: config.recheckAfter, recheckGrace: config.recheckGrace, sweepInterval: config.sweepInterval };
  }
  return {
    recheckAfter: config?.recheckAfter ?? RECHECK_DEFAULTS.recheckAfter,
    recheckGrace: RECHECK_DEFAULTS.recheckGrace,
    sweepInterval: 0,
  };
}

/** oauth2 and oidc upstreams cannot say that someone left: their people go through them again instead. */
const reauthenticates = (config: UpstreamConfig | undefined) => config?.type === 'oauth2' || config?.type === 'oidc';

export function sweepIntervalOf(configs: UpstreamConfig[]): number {
  const intervals = configs
    .filter((c) => c.type === 'dingtalk')
    .map((c) => timingOf(c).sweepInterval)
    .filter((s) => s > 0);
  return intervals.length === 0 ? 0 : Math.min(...intervals);
}

export function createMembership(deps: MembershipDeps): Membership {
  const { accounts, upstreams, store, log } = deps;
  const metrics = deps.metrics ?? noMetrics;
  const now = deps.now ?? (() => Date.now() / 1000);
  const configOf = (upstreamId: string) => deps.configs.find((c) => c.id === upstreamId);
  const timing = (upstreamId: string) => timingOf(configOf(upstreamId));

  /** An upstream that cannot be asked: the grant's sign-in must be younger than `sessionAbsolute`. */
  function withinAbsoluteLifetime(account: Account, authTime: number): RecheckAnswer {
    const limit = deps.sessionAbsolute;
    if (limit === undefined || !reauthenticates(configOf(account.upstream))) return { outcome: 'ok' };
    const age = now() - authTime;
    if (age <= limit) return { outcome: 'ok' };
    log.info(
      { event: 'membership.absolute_lifetime', sub: account.sub, upstream: account.upstream, age: Math.round(age), sessionAbsolute: limit },
      'sign-in older than ttl.sessionAbsolute and the upstream cannot be asked: refresh refused',
    );
    return { outcome: 'expired' };
  }

  /** The upstream could not tell: keep the grant while the last good check is recent enough. */
  function cannotTell(account: Account, err: unknown): RecheckAnswer {
    const age = now() - account.checkedAt;
    const { recheckGrace } = timing(account.upstream);
    const outcome = age <= recheckGrace ? 'unavailable' : 'expired';
    const why =
      err instanceof UpstreamError ? { reason: err.reason, code: err.detail.code } : { error: err instanceof Error ? err.name : 'unknown' };
    log.warn(
      {
        event: 'membership.recheck_failed',
        sub: account.sub,
        upstream: account.upstream,
        ...why,
        age: Math.round(age),
        recheckGrace,
        outcome,
      },
      'upstream could not confirm membership',
    );
    return { outcome, failure: err };
  }

  async function checkFor(trigger: RecheckTrigger, account: Account, authTime?: number): Promise<RecheckAnswer> {
    const upstream = upstreams.get(account.upstream);
    const answer = await check(account, trigger === 'refresh' ? authTime : undefined);
    // An upstream that cannot recheck passes its active accounts unasked: nothing to count.
    if (account.status !== 'active' || !upstream || upstream.recheck) metrics.recheckFinished(account.upstream, trigger, answer.outcome);
    return answer;
  }

  /** `refreshAuthTime`: set for a refresh, the sign-in of the grant being refreshed. */
  async function check(account: Account, refreshAuthTime?: number): Promise<RecheckAnswer> {
    if (account.status !== 'active') return { outcome: 'revoked' };
    const upstream = upstreams.get(account.upstream);
    if (!upstream) {
      log.warn(
        { event: 'membership.unknown_upstream', sub: account.sub, upstream: account.upstream },
        'account of an upstream no longer configured',
      );
      return { outcome: 'expired' };
    }
    if (!upstream.recheck) return refreshAuthTime === undefined ? { outcome: 'ok' } : withinAbsoluteLifetime(account, refreshAuthTime);
    let answer: UpstreamIdentity | 'revoked';
    try {
      answer = await upstream.recheck(account.profile);
    } catch (err) {
      return cannotTell(account, err);
    }
    if (answer === 'revoked') {
      await accounts.markLeft(account.sub, { reason: `${account.upstream}: no longer a member` });
      metrics.accountOffboarded(account.upstream);
      return { outcome: 'revoked' };
    }
    try {
      await accounts.markChecked(account.sub, answer);
    } catch (err) {
      // The fresh identity links elsewhere (linkDomain/linkKey config changed): a new login decides.
      if (!(err instanceof TypeError)) throw err;
      log.warn({ event: 'membership.relinked', sub: account.sub, upstream: account.upstream }, err.message);
      return { outcome: 'expired' };
    }
    return { outcome: 'ok' };
  }

  async function sweepLocked(): Promise<Omit<SweepResult, 'ran'> & { stopped: boolean }> {
    const counts = { checked: 0, revoked: 0, unavailable: 0 };
    let failuresInARow = 0;
    for (const sub of await store.accountsWithGrants()) {
      const account = await accounts.get(sub);
      if (!account || account.status !== 'active' || !upstreams.get(account.upstream)?.recheck) continue;
      const { outcome } = await checkFor('sweep', account);
      counts.checked += 1;
      if (outcome === 'revoked') counts.revoked += 1;
      if (outcome === 'unavailable' || outcome === 'expired') {
        counts.unavailable += 1;
        failuresInARow += 1;
        if (failuresInARow >= SWEEP_MAX_FAILURES_IN_A_ROW) {
          log.warn({ event: 'membership.sweep_stopped', ...counts }, 'membership sweep stopped early: upstream failing');
          return { ...counts, stopped: true };
        }
      } else {
        failuresInARow = 0;
      }
    }
    return { ...counts, stopped: false };
  }

  async function sweep(): Promise<SweepResult> {
    try {
      const { stopped, ...result } = await sweepOnce();
      metrics.sweepFinished(!result.ran ? 'skipped' : stopped ? 'stopped' : 'completed');
      return result;
    } catch (err) {
      metrics.sweepFinished('failed');
      throw err;
    }
  }

  async function sweepOnce(): Promise<SweepResult & { stopped: boolean }> {
    const interval = sweepIntervalOf(deps.configs);
    const lock = await store.lock(SWEEP_LOCK, interval > 0 ? interval : SWEEP_LOCK_DEFAULT_TTL);
    if (!lock) return { ran: false, checked: 0, revoked: 0, unavailable: 0, stopped: false };
    try {
      const { stopped, ...counts } = await sweepLocked();
      log.info({ event: 'membership.sweep', ...counts }, 'membership sweep finished');
      return { ran: true, ...counts, stopped };
    } finally {
      await lock.release();
    }
  }

  return {
    onRefresh: async (account, authTime) => (await checkFor('refresh', account, authTime ?? account.checkedAt)).outcome,
    recheckNow: (account) => checkFor('session', account),
    async needsRecheck(sub, loginTs) {
      const account = await accounts.get(sub);
      if (!account) return false;
      if (account.status !== 'active') return true;
      const upstream = upstreams.get(account.upstream);
      if (!upstream) return true;
      if (!upstream.recheck && !reauthenticates(configOf(account.upstream))) return false;
      const lastCheck = Math.max(account.checkedAt, loginTs ?? 0);
      return now() - lastCheck > timing(account.upstream).recheckAfter;
    },
    sweep,
    startSweeper() {
      const interval = sweepIntervalOf(deps.configs);
      if (interval <= 0) return { stop() {} };
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        sweep()
          .catch((err: unknown) => {
            log.warn(
              { event: 'membership.sweep_failed', error: err instanceof Error ? err.message : String(err) },
              'membership sweep failed',
            );
          })
          .finally(() => {
            running = false;
          });
      }, interval * 1000);
      timer.unref();
      return { stop: () => clearInterval(timer) };
    },
  };
}
