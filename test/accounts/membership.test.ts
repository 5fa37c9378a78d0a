/**
 * Membership rechecks with the real accounts library, real stores and the DingTalk upstream against
 * the sandbox: refresh (ok / revoked / unavailable within grace / past grace), session reuse,
 * the sweep that offboards people nobody refreshes for, and its one-replica-at-a-time lock.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createAccounts } from '../../src/accounts/accounts.js';
import {
  createMembership,
  sweepIntervalOf,
  type Membership,
  type MembershipDeps,
  type MembershipMetrics,
  type SweepOutcome,
} from '../../src/accounts/membership.js';
import type { Account, AccountsLog } from '../../src/accounts/types.js';
import type { UpstreamConfig } from '../../src/config/schema.js';
import { sampleUserids } from '../../src/sandbox/index.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { UpstreamError, type Upstream, type UpstreamIdentity } from '../../src/upstreams/types.js';
import { cleanupPrefix, freePort, LOCAL_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startBench, type Bench, type Mounted } from '../upstreams/dingtalk-harness.js';

const USERNAMES = { candidates: ['orgEmail', 'pinyin', 'jobNumber', 'userid', 'hash'] as const, reserved: [], pins: {} };
const RECHECK_AFTER = 900;
const RECHECK_GRACE = 1800;

function quietLog(): AccountsLog & { events: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  return {
    events,
    info: (obj) => {
      events.push(obj);
    },
    warn: (obj) => {
      events.push(obj);
    },
  };
}

/** Records each sweep's outcome; `waitFor(n)` resolves once n sweeps have finished. */
function sweepRecorder(): MembershipMetrics & { sweeps: SweepOutcome[]; waitFor(n: number): Promise<SweepOutcome[]> } {
  const sweeps: SweepOutcome[] = [];
  const waiting: { n: number; resolve: (s: SweepOutcome[]) => void }[] = [];
  return {
    sweeps,
    recheckFinished() {},
    accountOffboarded() {},
    sweepFinished(outcome) {
      sweeps.push(outcome);
      for (const w of waiting.filter((x) => sweeps.length >= x.n)) w.resolve([...sweeps]);
    },
    waitFor(n) {
      return sweeps.length >= n ? Promise.resolve([...sweeps]) : new Promise((resolve) => waiting.push({ n, resolve }));
    },
  };
}

/** Everything one replica has: a store, accounts, the DingTalk upstream, membership — on one shared clock. */
interface Replica {
  store: Store;
  accounts: ReturnType<typeof createAccounts>;
  membership: Membership;
  log: ReturnType<typeof quietLog>;
}

/** One grant with a refresh token and one browser session, as oidc-provider stores them. */
async function giveGrantAndSession(store: Store, sub: string): Promise<{ grantId: string; sessionId: string; tokenId: string }> {
  const grantId = `g-${randomBytes(6).toString('hex')}`;
  const sessionId = `s-${randomBytes(6).toString('hex')}`;
  const tokenId = `rt-${randomBytes(6).toString('hex')}`;
  await store.model('Grant').upsert(grantId, { accountId: sub, clientId: 'kubectl' }, 3600);
  await store.model('RefreshToken').upsert(tokenId, { accountId: sub, grantId, kind: 'RefreshToken' }, 3600);
  await store.model('Session').upsert(sessionId, { accountId: sub, uid: `uid-${sessionId}` }, 3600);
  return { grantId, sessionId, tokenId };
}

describe('membership against the DingTalk sandbox', () => {
  let bench: Bench;
  let dt: Mounted;
  let clock = Math.floor(Date.now() / 1000);
  const now = () => clock;
  let replica: Replica;
  const config = (): UpstreamConfig => dt.config;

  function makeReplica(store: Store, upstream: Upstream, configs: UpstreamConfig[] = [config()]): Replica {
    const log = quietLog();
    const accounts = createAccounts({ store, usernames: { ...USERNAMES, candidates: [...USERNAMES.candidates] }, log, now });
    const upstreams: MembershipDeps['upstreams'] = { get: (id) => (id === upstream.id ? upstream : undefined), all: () => [upstream] };
    return { store, accounts, log, membership: createMembership({ accounts, upstreams, store, configs, log, now }) };
  }

  async function member(userid: string, r: Replica = replica): Promise<Account> {
    const outcome = await dt.signIn(userid);
    if (outcome.err) assert.fail(outcome.err instanceof Error ? outcome.err : 'the DingTalk sign-in failed');
    return r.accounts.link(outcome.identity!);
  }

  before(async () => {
    bench = await startBench();
    dt = bench.add({ recheckAfter: RECHECK_AFTER, recheckGrace: RECHECK_GRACE, sweepInterval: 1 });
    replica = makeReplica(dt.store, dt.upstream);
  });
  afterEach(() => bench.sandbox.clearFaults());
  after(() => bench.close());

  it('refresh of a member: ok, and the profile and checkedAt are refreshed', async () => {
    const account = await member(sampleUserids.manager);
    clock += 60;
    const { grantId } = await giveGrantAndSession(replica.store, account.sub);
    const asked = bench.sandbox.stats.calls['/topapi/user/getbyunionid'] ?? 0;
    assert.equal(await replica.membership.onRefresh((await replica.accounts.get(account.sub))!), 'ok');
    assert.equal(await replica.membership.onRefresh((await replica.accounts.get(account.sub))!), 'ok');
    assert.equal(bench.sandbox.stats.calls['/topapi/user/getbyunionid'], asked + 2, 'asked every time, no cache');
    const after = (await replica.accounts.get(account.sub))!;
    assert.equal(after.checkedAt, clock);
    assert.equal(after.status, 'active');
    assert.ok(await replica.store.model('Grant').find(grantId));
  });

  it('refresh of a person who left: revoked, marked left, every grant and session ended', async () => {
    const account = await member(sampleUserids.southSales);
    const other = await member(sampleUserids.marketingHead);
    const mine = await giveGrantAndSession(replica.store, account.sub);
    const theirs = await giveGrantAndSession(replica.store, other.sub);
    bench.sandbox.removeMember(sampleUserids.southSales);
    assert.equal(await replica.membership.onRefresh(account), 'revoked');
    const after = (await replica.accounts.get(account.sub))!;
    assert.equal(after.status, 'left');
    assert.equal(await replica.store.model('Grant').find(mine.grantId), undefined);
    assert.equal(await replica.store.model('RefreshToken').find(mine.tokenId), undefined);
    assert.equal(await replica.store.model('Session').find(mine.sessionId), undefined);
    assert.ok(await replica.store.model('Grant').find(theirs.grantId), 'nobody else is touched');
    assert.ok(!(await replica.store.accountsWithGrants()).includes(account.sub));
    // Already left: no further question to DingTalk.
    const asked = bench.sandbox.stats.calls['/topapi/user/getbyunionid'];
    assert.equal(await replica.membership.onRefresh(after), 'revoked');
    assert.equal(bench.sandbox.stats.calls['/topapi/user/getbyunionid'], asked);
  });

  it('DingTalk down within recheckGrace: unavailable, the grant is kept', async () => {
    const account = await member(sampleUserids.liNa);
    const { grantId } = await giveGrantAndSession(replica.store, account.sub);
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'http', status: 503, body: { errcode: -1, errmsg: '系统繁忙' } });
    clock += RECHECK_GRACE;
    assert.equal(await replica.membership.onRefresh(account), 'unavailable');
    assert.equal((await replica.accounts.get(account.sub))!.status, 'active');
    assert.ok(await replica.store.model('Grant').find(grantId));
    assert.ok(replica.log.events.some((e) => e.event === 'membership.recheck_failed' && e.reason === 'unavailable'));
  });

  it('DingTalk down past recheckGrace: expired (refresh refused) but the person is NOT marked left', async () => {
    const account = await member(sampleUserids.adminMailbox);
    const { grantId } = await giveGrantAndSession(replica.store, account.sub);
    // The delay dwarfs the timeout, so "not a hang" is a margin, not a race, on a loaded machine.
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'delay', ms: 10_000 });
    const slow = bench.add({ timeoutMs: 100, recheckGrace: RECHECK_GRACE }, { store: replica.store });
    const viaSlow = makeReplica(replica.store, slow.upstream, [slow.config]);
    clock += RECHECK_GRACE + 1;
    const started = Date.now();
    assert.equal(await viaSlow.membership.onRefresh(account), 'expired');
    assert.ok(Date.now() - started < 5000, 'a timeout, not a hang');
    assert.equal((await replica.accounts.get(account.sub))!.status, 'active');
    assert.ok(await replica.store.model('Grant').find(grantId));
  });

  it('needsRecheck: after recheckAfter since the last check or login', async () => {
    const account = await member(sampleUserids.wangFangPlatform);
    assert.equal(await replica.membership.needsRecheck(account.sub), false);
    clock += RECHECK_AFTER + 1;
    assert.equal(await replica.membership.needsRecheck(account.sub), true);
    assert.equal(await replica.membership.needsRecheck(account.sub, clock - 10), false, 'a recent login counts as a check');
    assert.deepEqual(await replica.membership.recheckNow(account), { outcome: 'ok' });
    assert.equal(await replica.membership.needsRecheck(account.sub), false);
    assert.equal(await replica.membership.needsRecheck('no-such-account'), false);
  });

  it('sweep offboards a departed person nobody refreshed for, and leaves members alone', async () => {
    const leaving = await member(sampleUserids.twoDepartments);
    const staying = await member(sampleUserids.wangFangMarketing);
    const gone = await giveGrantAndSession(replica.store, leaving.sub);
    const kept = await giveGrantAndSession(replica.store, staying.sub);
    bench.sandbox.removeMember(sampleUserids.twoDepartments);
    const result = await replica.membership.sweep();
    assert.equal(result.ran, true);
    assert.ok(result.revoked >= 1);
    assert.equal((await replica.accounts.get(leaving.sub))!.status, 'left');
    assert.equal(await replica.store.model('Grant').find(gone.grantId), undefined);
    assert.equal(await replica.store.model('Session').find(gone.sessionId), undefined);
    assert.equal((await replica.accounts.get(staying.sub))!.status, 'active');
    assert.ok(await replica.store.model('Grant').find(kept.grantId));
  });

  it('the sweeper runs on its interval until stopped', async () => {
    let resolveSwept!: (counts: Record<string, unknown>) => void;
    const swept = new Promise<Record<string, unknown>>((resolve) => {
      resolveSwept = resolve;
    });
    const log: AccountsLog = {
      info: (obj) => {
        if (obj.event === 'membership.sweep') resolveSwept(obj);
      },
      warn: () => {},
    };
    const membership = createMembership({
      accounts: replica.accounts,
      upstreams: { get: () => dt.upstream, all: () => [dt.upstream] },
      store: replica.store,
      configs: [dt.config],
      log,
      now,
    });
    const sweeper = membership.startSweeper();
    try {
      const counts = await swept;
      assert.equal(typeof counts.checked, 'number');
    } finally {
      sweeper.stop();
    }
  });

  it('DingTalk answering 503: the sweep stops early, marks nobody left and counts stopped', async () => {
    // A store of its own, so exactly these people hold grants.
    const down = bench.add({ recheckAfter: RECHECK_AFTER, recheckGrace: RECHECK_GRACE });
    const log = quietLog();
    const accounts = createAccounts({ store: down.store, usernames: { ...USERNAMES, candidates: [...USERNAMES.candidates] }, log, now });
    const metrics = sweepRecorder();
    const upstreams: MembershipDeps['upstreams'] = {
      get: (id) => (id === down.upstream.id ? down.upstream : undefined),
      all: () => [down.upstream],
    };
    const membership = createMembership({ accounts, upstreams, store: down.store, configs: [down.config], log, now, metrics });
    const people = [
      sampleUserids.manager,
      sampleUserids.wangFangPlatform,
      sampleUserids.wangFangMarketing,
      sampleUserids.liNa,
      sampleUserids.adminMailbox,
      sampleUserids.noEmail,
      sampleUserids.marketingHead,
    ];
    const subs: string[] = [];
    for (const userid of people) {
      const outcome = await down.signIn(userid);
      assert.ifError(outcome.err);
      const account = await accounts.link(outcome.identity!);
      await giveGrantAndSession(down.store, account.sub);
      subs.push(account.sub);
    }
    bench.sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'http', status: 503, body: 'Service Unavailable' });
    const calls = () => bench.sandbox.stats.calls['/topapi/user/getbyunionid'] ?? 0;
    // What one check costs (the DingTalk client may retry a 5xx once).
    const beforeOne = calls();
    assert.equal(await membership.onRefresh((await accounts.get(subs[0]!))!), 'unavailable');
    const perCheck = calls() - beforeOne;
    const before = calls();
    const result = await membership.sweep();
    assert.deepEqual({ ...result }, { ran: true, checked: 5, revoked: 0, unavailable: 5 });
    assert.equal(calls(), before + 5 * perCheck, 'no question after the fifth failure in a row');
    assert.deepEqual(metrics.sweeps, ['stopped']);
    for (const sub of subs) assert.equal((await accounts.get(sub))!.status, 'active', 'DingTalk being down says nothing about anyone');
    assert.equal((await down.store.accountsWithGrants()).length, people.length, 'every grant kept');
    assert.ok(log.events.some((e) => e.event === 'membership.sweep_stopped'));
  });

  it('Redis down: every sweep counts failed and the timer keeps running', { timeout: 15_000 }, async () => {
    const deadStore = openRedisStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      keyPrefix: testPrefix('test:dead'),
      commandTimeoutMs: 200,
      readyWaitMs: 100,
    });
    const metrics = sweepRecorder();
    const log = quietLog();
    const membership = createMembership({
      accounts: replica.accounts,
      upstreams: { get: () => dt.upstream, all: () => [dt.upstream] },
      store: deadStore,
      configs: [dt.config], // sweepInterval: 1 s
      log,
      now,
      metrics,
    });
    const sweeper = membership.startSweeper();
    try {
      // Two failed runs: the first failure did not stop the timer.
      assert.deepEqual(await metrics.waitFor(2), ['failed', 'failed']);
      assert.ok(log.events.some((e) => e.event === 'membership.sweep_failed'));
    } finally {
      sweeper.stop();
      await deadStore.close();
    }
  });

  it('two replicas sharing Redis: of two concurrent sweeps only one runs', async () => {
    const prefix = testPrefix('test:membership');
    const storeA = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
    const storeB = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
    try {
      const a = makeReplica(storeA, bench.add({}, { store: storeA }).upstream);
      const b = makeReplica(storeB, bench.add({}, { store: storeB }).upstream);
      const account = await member(sampleUserids.noEmail, a);
      await giveGrantAndSession(storeA, account.sub);
      const before = bench.sandbox.stats.calls['/topapi/user/getbyunionid'] ?? 0;
      const results = await Promise.all([a.membership.sweep(), b.membership.sweep()]);
      assert.deepEqual(results.map((r) => r.ran).sort(), [false, true]);
      const winner = results.find((r) => r.ran)!;
      assert.deepEqual({ ...winner }, { ran: true, checked: 1, revoked: 0, unavailable: 0 });
      assert.equal(bench.sandbox.stats.calls['/topapi/user/getbyunionid'], before + 1);
      // Released afterwards: the next sweep runs.
      assert.equal((await b.membership.sweep()).ran, true);
    } finally {
      await storeA.close();
      await storeB.close();
      await cleanupPrefix(prefix);
    }
  });
});

describe('membership rules', () => {
  const store = openMemoryStore();
  after(() => store.close());
  const t0 = 1_800_000_000;
  let clock = t0;
  const now = () => clock;

  function identity(key: string, upstream = 'dingtalk'): UpstreamIdentity {
    return { upstream, subject: key, linkDomain: 'dingtalk:corp', linkKey: key, usernameHints: [], groups: [], extra: {}, name: 'Test' };
  }

  function setup(upstream: Upstream | undefined, configs: UpstreamConfig[] = [], options: Pick<MembershipDeps, 'sessionAbsolute'> = {}) {
    const log = quietLog();
    const accounts = createAccounts({ store, usernames: { ...USERNAMES, candidates: [...USERNAMES.candidates] }, log, now });
    const upstreams = {
      get: (id: string) => (upstream && id === upstream.id ? upstream : undefined),
      all: () => (upstream ? [upstream] : []),
    };
    return { accounts, log, membership: createMembership({ accounts, upstreams, store, configs, log, now, ...options }) };
  }

  const fakeUpstream = (recheck?: Upstream['recheck']): Upstream => ({
    id: 'dingtalk',
    type: 'dingtalk',
    displayName: 'DingTalk',
    createStrategy: () => {
      throw new Error('unused');
    },
    ...(recheck ? { recheck } : {}),
  });

  it('an upstream without recheck: always ok, never needs a recheck', async () => {
    const { accounts, membership } = setup(fakeUpstream());
    const account = await accounts.link(identity('norecheck'));
    clock += 10_000;
    assert.equal(await membership.onRefresh(account), 'ok');
    assert.equal(await membership.needsRecheck(account.sub), false);
  });

  it('an oauth2 or oidc upstream cannot be asked: due after its recheckAfter, refresh refused past ttl.sessionAbsolute', async () => {
    for (const type of ['oauth2', 'oidc'] as const) {
      const idp: Upstream = { ...fakeUpstream(), id: `idp-${type}`, type };
      const config = { id: idp.id, type, recheckAfter: 600 } as unknown as UpstreamConfig;
      const { accounts, membership, log } = setup(idp, [config], { sessionAbsolute: 3600 });
      const account = await accounts.link(identity(`absolute-${type}`, idp.id));
      const loginTs = clock;
      assert.equal(await membership.needsRecheck(account.sub, loginTs), false);
      clock += 601;
      assert.equal(await membership.needsRecheck(account.sub, loginTs), true, `${type}: a new leg after recheckAfter`);
      assert.equal(await membership.onRefresh(account, loginTs), 'ok', `${type}: within the absolute lifetime`);
      clock += 3000;
      assert.equal(await membership.onRefresh(account, loginTs), 'expired', `${type}: the grant's sign-in is too old`);
      assert.equal(await membership.onRefresh(account, clock - 60), 'ok', `${type}: a younger sign-in`);
      assert.equal((await accounts.get(account.sub))!.status, 'active', 'nothing says the person left');
      assert.ok(log.events.some((e) => e.event === 'membership.absolute_lifetime'));
    }
  });

  it('DingTalk is unchanged by ttl.sessionAbsolute: a refresh asks DingTalk, and without a membership check nothing ends', async () => {
    const asked: string[] = [];
    const enforced = fakeUpstream(async (id) => {
      asked.push(id.subject);
      return id;
    });
    const dingtalkConfig = {
      id: 'dingtalk',
      type: 'dingtalk',
      recheckAfter: 900,
      recheckGrace: 1800,
      sweepInterval: 0,
    } as unknown as UpstreamConfig;
    const { accounts, membership } = setup(enforced, [dingtalkConfig], { sessionAbsolute: 3600 });
    const member = await accounts.link(identity('dt-absolute'));
    assert.equal(await membership.onRefresh(member, clock - 86_400), 'ok');
    assert.deepEqual(asked, ['dt-absolute']);

    // allowAnyDingTalkUser: no recheck, so no new leg and no refresh limit either.
    const open = setup(fakeUpstream(), [dingtalkConfig], { sessionAbsolute: 3600 });
    const anyone = await open.accounts.link(identity('dt-anyone'));
    assert.equal(await open.membership.onRefresh(anyone, clock - 86_400), 'ok');
    assert.equal(await open.membership.needsRecheck(anyone.sub, clock - 86_400), false);
  });

  it('an account whose upstream is no longer configured: expired, not left', async () => {
    const { accounts, membership } = setup(undefined);
    const account = await accounts.link(identity('orphan', 'renamed-away'));
    assert.equal(await membership.onRefresh(account), 'expired');
    assert.equal(await membership.needsRecheck(account.sub), true);
    assert.equal((await accounts.get(account.sub))!.status, 'active');
  });

  it('any failure of recheck counts as "cannot tell", with the default grace for non-DingTalk configs', async () => {
    const { accounts, membership } = setup(
      fakeUpstream(async () => {
        throw new Error('boom');
      }),
    );
    clock = t0;
    const account = await accounts.link(identity('flaky'));
    clock = t0 + 30 * 60;
    assert.equal(await membership.onRefresh(account), 'unavailable');
    clock = t0 + 30 * 60 + 1;
    assert.equal(await membership.onRefresh(account), 'expired');
  });

  it('revoked from the upstream marks the account left; a tombstoned account is revoked without asking', async () => {
    let asked = 0;
    const { accounts, membership } = setup(
      fakeUpstream(async () => {
        asked += 1;
        return 'revoked';
      }),
    );
    const account = await accounts.link(identity('leaver'));
    assert.equal(await membership.onRefresh(account), 'revoked');
    assert.equal((await accounts.get(account.sub))!.status, 'left');
    const other = await accounts.link(identity('disabled'));
    await accounts.tombstone(other.sub);
    const before = asked;
    assert.equal(await membership.onRefresh((await accounts.get(other.sub))!), 'revoked');
    assert.equal(asked, before);
  });

  it('an identity that no longer maps to the account is refused, not applied', async () => {
    const { accounts, membership } = setup(fakeUpstream(async (i) => ({ ...i, linkKey: 'someone-else' })));
    const account = await accounts.link(identity('relinked'));
    assert.equal(await membership.onRefresh(account), 'expired');
    assert.equal((await accounts.get(account.sub))!.profile.linkKey, 'relinked');
  });

  it('a sweep stops after five upstream failures in a row instead of asking about everyone', async () => {
    const own = openMemoryStore();
    try {
      let asked = 0;
      const log = quietLog();
      const metrics = sweepRecorder();
      const upstream = fakeUpstream(async () => {
        asked += 1;
        throw new UpstreamError('dingtalk', 'unavailable', 'busy');
      });
      const accounts = createAccounts({ store: own, usernames: { ...USERNAMES, candidates: [...USERNAMES.candidates] }, log, now });
      const membership = createMembership({
        accounts,
        upstreams: { get: (id) => (id === upstream.id ? upstream : undefined), all: () => [upstream] },
        store: own,
        configs: [],
        log,
        now,
        metrics,
      });
      clock = t0;
      for (let i = 0; i < 8; i += 1) {
        const account = await accounts.link(identity(`stop-${i}`));
        await giveGrantAndSession(own, account.sub);
      }
      const result = await membership.sweep();
      assert.equal(asked, 5);
      assert.deepEqual({ ...result }, { ran: true, checked: 5, revoked: 0, unavailable: 5 });
      assert.deepEqual(metrics.sweeps, ['stopped']);
    } finally {
      await own.close();
    }
  });

  it('sweep interval: the smallest non-zero of the DingTalk upstreams; 0 turns the sweeper off', () => {
    const base = { type: 'dingtalk', clientId: 'k', clientSecret: 's', corpId: 'c' } as const;
    const dingtalk = (id: string, sweepInterval: number) => ({ ...base, id, sweepInterval }) as unknown as UpstreamConfig;
    assert.equal(sweepIntervalOf([dingtalk('a', 3600), dingtalk('b', 600), dingtalk('c', 0)]), 600);
    assert.equal(sweepIntervalOf([dingtalk('a', 0)]), 0);
    const { membership } = setup(fakeUpstream(), [dingtalk('a', 0)]);
    membership.startSweeper().stop();
  });

  it('UpstreamError reasons are logged with the failure', async () => {
    const { accounts, membership, log } = setup(
      fakeUpstream(async () => {
        throw new UpstreamError('dingtalk', 'misconfigured', 'ip', { code: '60020' });
      }),
    );
    clock = t0;
    const account = await accounts.link(identity('ip-blocked'));
    assert.equal(await membership.onRefresh(account), 'unavailable');
    assert.ok(log.events.some((e) => e.event === 'membership.recheck_failed' && e.code === '60020' && e.reason === 'misconfigured'));
  });
});
