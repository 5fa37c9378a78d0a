import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setImmediate } from 'node:timers/promises';
import { createAccounts } from '../../src/accounts/accounts.js';
import {
  AccountDisabledError,
  AccountLeftError,
  InvalidUsernameError,
  UnknownAccountError,
  UsernameTakenError,
} from '../../src/accounts/errors.js';
import { subjectFor } from '../../src/accounts/subject.js';
import type { Account } from '../../src/accounts/types.js';
import { isValidUsername, type UsernamesConfig } from '../../src/accounts/usernames.js';
import { CORP, STORE_KINDS, captureLog, dingtalkIdentity, usernamesConfig, type StoreKind } from './fixtures.js';

const T0 = 1_700_000_000;

function setup(kind: StoreKind, t: TestContext, usernames: Partial<UsernamesConfig> = {}) {
  const replicas = kind.fresh();
  t.after(() => replicas.close());
  const store = replicas.open();
  const log = captureLog();
  let clock = T0;
  const accounts = createAccounts({ store, usernames: usernamesConfig(usernames), log, now: () => clock });
  return {
    replicas,
    store,
    log,
    accounts,
    tick: (seconds: number) => {
      clock += seconds;
    },
    /** Another replica: its own store connection and accounts instance on the same data. */
    replica: (config: Partial<UsernamesConfig> = usernames) =>
      createAccounts({ store: replicas.open(), usernames: usernamesConfig(config), log, now: () => clock }),
  };
}

const wangfang = (key: string) => dingtalkIdentity(key, { name: '王芳' });

for (const kind of STORE_KINDS) {
  describe(`accounts on ${kind.name}`, () => {
    it('creates the account at first login, in the documented record layout', async (t) => {
      const { accounts, store, log } = setup(kind, t);
      const identity = dingtalkIdentity('union-1', {
        name: '张伟',
        email: 'zw@corp.example',
        emailVerified: true,
        connectorData: 'secret-ish',
      });
      const account = await accounts.link(identity);
      const sub = subjectFor(CORP, 'union-1');
      assert.deepEqual(account, {
        schemaVersion: 1,
        sub,
        linkDomain: CORP,
        linkKey: 'union-1',
        username: 'zhangwei',
        status: 'active',
        upstream: 'dingtalk',
        profile: identity,
        createdAt: T0,
        updatedAt: T0,
        checkedAt: T0,
      });
      assert.deepEqual(await store.durable.get(`account:${sub}`), account);
      assert.equal(await store.durable.get('username:zhangwei'), sub);
      assert.deepEqual(log.audits('account.create'), [{ audit: 'account.create', sub, username: 'zhangwei', upstream: 'dingtalk' }]);
      assert.deepEqual(await accounts.get(sub), account);
      assert.deepEqual(await accounts.findByUsername('zhangwei'), account);
      assert.deepEqual(await accounts.find(sub), account);
      assert.equal(await accounts.get('nobody'), undefined);
      assert.equal(await accounts.findByUsername('nobody'), undefined);
    });

    it('later logins refresh the profile but never the username or createdAt', async (t) => {
      const { accounts, tick } = setup(kind, t);
      const first = await accounts.link(
        dingtalkIdentity('union-1', { name: '张伟', hints: [{ source: 'orgEmail', value: 'wei@corp.example' }] }),
      );
      assert.equal(first.username, 'wei');
      tick(60);
      const again = dingtalkIdentity('union-1', {
        name: '张伟',
        extra: { title: 'x' },
        hints: [{ source: 'orgEmail', value: 'zhang.wei@corp.example' }],
        groups: ['研发中心'],
      });
      const second = await accounts.link({ ...again, upstream: 'dingtalk-2' });
      assert.equal(second.username, 'wei');
      assert.equal(second.createdAt, T0);
      assert.equal(second.updatedAt, T0 + 60);
      assert.equal(second.checkedAt, T0 + 60);
      assert.equal(second.upstream, 'dingtalk-2');
      assert.deepEqual(second.profile.groups, ['研发中心']);
      assert.equal((await accounts.list()).length, 1);
    });

    it('links only on linkDomain + linkKey, never on email', async (t) => {
      const { accounts } = setup(kind, t);
      const a = await accounts.link(dingtalkIdentity('k1', { email: 'same@corp.example', emailVerified: true, name: '甲' }));
      const b = await accounts.link(dingtalkIdentity('k2', { email: 'same@corp.example', emailVerified: true, name: '乙' }));
      assert.notEqual(a.sub, b.sub);
      const c = await accounts.link(dingtalkIdentity('k1', { email: 'changed@corp.example', name: '甲' }));
      assert.equal(c.sub, a.sub);
      const otherCorp = await accounts.link({ ...dingtalkIdentity('k1', { name: '甲' }), linkDomain: 'dingtalk:otherCorp' });
      assert.notEqual(otherCorp.sub, a.sub);
      assert.equal((await accounts.list()).length, 3);
    });

    it('gives two same-name people distinct names they keep on re-login', async (t) => {
      const { accounts } = setup(kind, t, { candidates: ['pinyin'] });
      const first = await accounts.link(wangfang('k1'));
      const second = await accounts.link(wangfang('k2'));
      assert.deepEqual([first.username, second.username], ['wangfang', 'wangfang2']);
      assert.equal((await accounts.link(wangfang('k2'))).username, 'wangfang2');
      assert.equal((await accounts.link(wangfang('k1'))).username, 'wangfang');
      assert.equal((await accounts.link(wangfang('k3'))).username, 'wangfang3');
      assert.deepEqual(
        (await accounts.list()).map((a) => a.username),
        ['wangfang', 'wangfang2', 'wangfang3'],
      );
    });

    it('tries the next candidate before suffixing', async (t) => {
      const { accounts } = setup(kind, t, { candidates: ['pinyin', 'jobNumber'] });
      await accounts.link(wangfang('k1'));
      const second = await accounts.link(dingtalkIdentity('k2', { name: '王芳', hints: [{ source: 'jobNumber', value: 'E1001' }] }));
      assert.equal(second.username, 'e1001');
    });

    it('never gives the admin@ person "admin"', async (t) => {
      const { accounts } = setup(kind, t, { candidates: ['orgEmail'] });
      const account = await accounts.link(dingtalkIdentity('k1', { hints: [{ source: 'orgEmail', value: 'admin@corp.example' }] }));
      assert.notEqual(account.username, 'admin');
      assert.match(account.username, /^u-[a-z2-7]{8}$/);
    });

    it('honours pins: the pinned person gets the name, nobody else ever does', async (t) => {
      const pins = { [`${CORP}:userid:manager4220`]: 'zhangwei' };
      const { accounts } = setup(kind, t, { candidates: ['pinyin'], pins });
      const namesake = await accounts.link(dingtalkIdentity('k1', { name: '张伟', userid: 'dev1' }));
      const pinned = await accounts.link(dingtalkIdentity('k2', { name: '张伟', userid: 'manager4220' }));
      assert.equal(pinned.username, 'zhangwei');
      assert.equal(namesake.username, 'zhangwei2');
      await assert.rejects(accounts.rename(namesake.username, 'zhangwei'), InvalidUsernameError);
      const byUnionId = setup(kind, t, { pins: { [`${CORP}:unionId:k9`]: 'boss' } });
      assert.equal((await byUnionId.accounts.link(dingtalkIdentity('k9', { name: '老板' }))).username, 'boss');
    });

    it('names from an upstream that does not vouch for them carry its prefix and never take a directory name', async (t) => {
      const replicas = kind.fresh();
      t.after(() => replicas.close());
      const unvouched = new Map([['dingtalk-any', 'dingtalk-any-']]);
      const accounts = createAccounts({
        store: replicas.open(),
        usernames: usernamesConfig({ candidates: ['orgEmail', 'pinyin', 'hash'] }),
        unvouchedUpstreams: unvouched,
        log: captureLog(),
        now: () => T0,
      });
      // An outsider whose DingTalk nick is 张伟 arrives first, through the permissive upstream.
      const outsider = dingtalkIdentity('outsider', { upstream: 'dingtalk-any', linkDomain: 'dingtalk-any:ding0123456789', name: '张伟' });
      assert.equal((await accounts.link(outsider)).username, 'dingtalk-any-zhangwei');
      // The employee, through the organisation's upstream, still gets the directory's name.
      assert.equal((await accounts.link(dingtalkIdentity('employee', { name: '张伟' }))).username, 'zhangwei');
      // A directory name can never be one of the outsiders' names.
      const tricky = dingtalkIdentity('tricky', { name: '李雷', hints: [{ source: 'orgEmail', value: 'dingtalk-any-boss@corp.example' }] });
      assert.equal((await accounts.link(tricky)).username, 'lilei');
      const nothingElse = dingtalkIdentity('nothing', { hints: [{ source: 'orgEmail', value: 'dingtalk-any-x@corp.example' }] });
      assert.match((await accounts.link(nothingElse)).username, /^u-[a-z2-7]{8}$/);
      const anonymous = dingtalkIdentity('anon', { upstream: 'dingtalk-any', linkDomain: 'dingtalk-any:ding0123456789' });
      assert.match((await accounts.link(anonymous)).username, /^dingtalk-any-u-[a-z2-7]{8}$/);
    });

    it('warns and falls back when a pinned name was given out before the pin existed', async (t) => {
      const { accounts, replica, log } = setup(kind, t, { candidates: ['pinyin'] });
      assert.equal((await accounts.link(dingtalkIdentity('k1', { name: '张伟' }))).username, 'zhangwei');
      const pinnedLater = replica({ candidates: ['pinyin'], pins: { [`${CORP}:subject:k2`]: 'zhangwei' } });
      assert.equal((await pinnedLater.link(dingtalkIdentity('k2', { name: '张伟' }))).username, 'zhangwei2');
      assert.equal(log.lines.filter((l) => l.level === 'warn' && l.obj.username === 'zhangwei').length, 1);
    });

    it('first-login race across two replicas: 20 namesakes get 20 distinct names, one account each', async (t) => {
      const { accounts, replica } = setup(kind, t, { candidates: ['pinyin'] });
      const other = replica();
      const keys = Array.from({ length: 20 }, (_, i) => `race-${i}`);
      const linked = await Promise.all(keys.map((key, i) => (i % 2 === 0 ? accounts : other).link(wangfang(key))));
      const names = linked.map((a) => a.username);
      assert.equal(new Set(names).size, 20);
      assert.deepEqual(new Set(names), new Set(['wangfang', ...Array.from({ length: 19 }, (_, i) => `wangfang${i + 2}`)]));
      const listed = await accounts.list();
      assert.equal(listed.length, 20);
      assert.deepEqual(new Set(listed.map((a) => a.sub)), new Set(keys.map((k) => subjectFor(CORP, k))));
      for (const account of linked) {
        assert.equal((await other.findByUsername(account.username))?.sub, account.sub);
      }
      const relinked = await Promise.all(keys.map((key, i) => (i % 2 === 0 ? other : accounts).link(wangfang(key))));
      assert.deepEqual(
        relinked.map((a) => a.username),
        names,
      );
    });

    it('the same person arriving 10 times at once gets one account and one username', async (t) => {
      const { accounts, replica, store } = setup(kind, t, { candidates: ['pinyin'] });
      const other = replica();
      await accounts.link(wangfang('someone-else')); // so the race also walks past a taken name
      const linked = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? other : accounts).link(wangfang('twice'))));
      assert.equal(new Set(linked.map((a) => a.sub)).size, 1);
      assert.deepEqual(new Set(linked.map((a) => a.username)), new Set(['wangfang2']));
      assert.equal((await accounts.list()).length, 2);
      assert.deepEqual((await store.durable.keys('username:')).sort(), ['username:wangfang', 'username:wangfang2']);
    });

    it('logins on two replicas, back to back, never undo a rename made meanwhile', async (t) => {
      const { accounts, replica, tick } = setup(kind, t, { candidates: ['pinyin'] });
      const other = replica();
      const fang = await accounts.link(wangfang('k1'));
      tick(5);
      // Both replicas sign the person in back to back, so renames land between some login's read
      // of the account and its write (a tombstone racing logins: the test below).
      let running = true;
      const signInLoop = async (replicaAccounts: typeof accounts) => {
        let logins = 0;
        while (running) {
          await replicaAccounts.link(wangfang('k1'));
          logins += 1;
          // As requests arrive: through the event loop (on the memory store a bare loop of promises
          // would starve the timers of the other writers' retries).
          await setImmediate();
        }
        return logins;
      };
      const loops = [signInLoop(accounts), signInLoop(other)];
      for (const name of ['fang.wang', 'wangfang', 'fang', 'wang.fang', 'fang.wang']) {
        assert.equal((await accounts.rename(fang.sub, name)).username, name);
        await Promise.all([accounts.link(wangfang('k1')), other.link(wangfang('k1'))]);
        assert.equal((await other.get(fang.sub))?.username, name, 'no login wrote back the name it had read');
      }
      running = false;
      assert.ok(
        (await Promise.all(loops)).every((n) => n >= 1),
        'both replicas signed in meanwhile',
      );
      assert.equal((await accounts.get(fang.sub))?.checkedAt, T0 + 5, 'the logins were recorded too');
    });

    it('rename claims the new name, keeps the old one for the same person, and audits', async (t) => {
      const { accounts, log, tick } = setup(kind, t, { candidates: ['pinyin'] });
      const fang = await accounts.link(wangfang('k1'));
      const other = await accounts.link(dingtalkIdentity('k2', { name: '李雷' }));
      tick(5);
      const renamed = await accounts.rename('wangfang', 'fang.wang');
      assert.equal(renamed.username, 'fang.wang');
      assert.equal(renamed.updatedAt, T0 + 5);
      assert.deepEqual(log.audits('account.rename'), [{ audit: 'account.rename', sub: fang.sub, from: 'wangfang', to: 'fang.wang' }]);
      assert.equal((await accounts.findByUsername('fang.wang'))?.sub, fang.sub);
      assert.equal((await accounts.findByUsername('wangfang'))?.sub, fang.sub, 'a former name still names its person');
      assert.equal((await accounts.link(wangfang('k1'))).username, 'fang.wang', 'a login does not undo a rename');
      assert.equal((await accounts.link(wangfang('k3'))).username, 'wangfang2', 'a former name is never given to anyone else');
      assert.equal((await accounts.rename(fang.sub, 'wangfang')).username, 'wangfang', 'a person may take back their own former name');
      await assert.rejects(accounts.rename(other.sub, 'wangfang'), UsernameTakenError);
      await assert.rejects(accounts.rename(other.sub, 'fang.wang'), UsernameTakenError);
      await assert.rejects(accounts.rename(other.sub, 'Li_Lei'), InvalidUsernameError);
      await assert.rejects(accounts.rename(other.sub, 'root'), /reserved/);
      await assert.rejects(accounts.rename(other.sub, 'a'.repeat(33)), InvalidUsernameError);
      await assert.rejects(accounts.rename('nobody', 'x'), UnknownAccountError);
      assert.equal((await accounts.get(other.sub))?.username, 'lilei');
    });

    it('revoke ends every grant and session now, keeps the status, and audits', async (t) => {
      const { accounts, store, log } = setup(kind, t);
      const account = await accounts.link(dingtalkIdentity('k1', { name: '张伟' }));
      await store.model('Grant').upsert('grant-1', { accountId: account.sub, clientId: 'kubectl' }, 600);
      await store.model('Session').upsert('session-1', { accountId: account.sub, uid: 'uid-1' }, 600);
      const result = await accounts.revoke('zhangwei', { reason: 'manual' });
      assert.equal(result.grants, 1);
      assert.equal(result.sessions, 1);
      assert.equal(result.account.sub, account.sub);
      assert.equal(await store.model('Grant').find('grant-1'), undefined);
      assert.equal(await store.model('Session').find('session-1'), undefined);
      assert.equal((await accounts.get(account.sub))?.status, 'active');
      assert.deepEqual(log.audits('account.revoke'), [
        { audit: 'account.revoke', sub: account.sub, username: 'zhangwei', reason: 'manual', grants: 1, sessions: 1 },
      ]);
      await assert.rejects(accounts.revoke('nobody'), UnknownAccountError);
    });

    it('markLeft sets left and revokes; only a login that confirmed membership reactivates', async (t) => {
      const { accounts, store, log } = setup(kind, t);
      const account = await accounts.link(dingtalkIdentity('k1', { name: '张伟' }));
      await store.model('Grant').upsert('grant-1', { accountId: account.sub }, 600);
      const result = await accounts.markLeft(account.sub);
      assert.equal(result.grants, 1);
      assert.equal((await accounts.get(account.sub))?.status, 'left');
      assert.equal(log.audits('account.left').length, 1);
      assert.equal(log.audits('account.revoke')[0]?.reason, 'left');
      await assert.rejects(accounts.link(dingtalkIdentity('k1', { name: '张伟' })), AccountLeftError);
      await assert.rejects(accounts.link(dingtalkIdentity('k1', { name: '张伟' }), { confirmsMembership: false }), AccountLeftError);
      assert.equal((await accounts.get(account.sub))?.status, 'left', 'an upstream that checks no membership brings nobody back');
      const back = await accounts.link(dingtalkIdentity('k1', { name: '张伟' }), { confirmsMembership: true });
      assert.equal(back.status, 'active');
      assert.equal(log.audits('account.reactivate').length, 1);
    });

    it('reactivate: the operator brings back a left account, never a tombstoned one', async (t) => {
      const { accounts, log } = setup(kind, t);
      const left = await accounts.link(dingtalkIdentity('k1', { name: '张伟' }));
      await accounts.markLeft(left.sub);
      assert.equal((await accounts.reactivate('zhangwei')).status, 'active');
      assert.equal(log.audits('account.reactivate')[0]?.reason, 'operator');
      assert.equal((await accounts.link(dingtalkIdentity('k1', { name: '张伟' }))).status, 'active');
      const gone = await accounts.link(dingtalkIdentity('k2', { name: '李雷' }));
      await accounts.tombstone(gone.sub);
      await assert.rejects(accounts.reactivate(gone.sub), AccountDisabledError);
    });

    it('a tombstoned account is refused at login and stays tombstoned', async (t) => {
      const { accounts, log } = setup(kind, t);
      const account = await accounts.link(dingtalkIdentity('k1', { name: '张伟' }));
      await accounts.tombstone('zhangwei', { reason: 'fraud' });
      await assert.rejects(accounts.link(dingtalkIdentity('k1', { name: '张伟' })), AccountDisabledError);
      await accounts.markLeft(account.sub);
      assert.equal((await accounts.get(account.sub))?.status, 'tombstoned');
      assert.deepEqual(
        log.audits('account.tombstone').map((a) => a.reason),
        ['fraud'],
      );
    });

    it('a login racing a tombstone on another replica never undoes it', async (t) => {
      const { accounts, replica } = setup(kind, t);
      const other = replica();
      for (let i = 0; i < 5; i += 1) {
        const identity = dingtalkIdentity(`k${i}`, { name: '张伟' });
        const { sub } = await accounts.link(identity);
        const logins = (n: number) => Array.from({ length: n }, (_, j) => (j % 2 ? other : accounts).link(identity));
        await Promise.allSettled([...logins(5), other.tombstone(sub), ...logins(5)]);
        assert.equal((await accounts.get(sub))?.status, 'tombstoned');
      }
    });

    it('markChecked refreshes checkedAt and the profile, only for the same person', async (t) => {
      const { accounts, tick } = setup(kind, t);
      const account = await accounts.link(dingtalkIdentity('k1', { name: '张伟' }));
      tick(900);
      const checked = await accounts.markChecked(account.sub, dingtalkIdentity('k1', { name: '张伟', extra: { title: 'CTO' } }));
      assert.equal(checked.checkedAt, T0 + 900);
      assert.equal(checked.profile.extra.title, 'CTO');
      assert.equal(checked.username, 'zhangwei');
      await assert.rejects(accounts.markChecked(account.sub, dingtalkIdentity('k2')), TypeError);
      await assert.rejects(accounts.markChecked(subjectFor(CORP, 'ghost'), dingtalkIdentity('ghost')), UnknownAccountError);
    });

    it('lists every account, sorted by username', async (t) => {
      const { accounts } = setup(kind, t, { candidates: ['pinyin'] });
      for (const [key, name] of [
        ['a', '赵六'],
        ['b', '李雷'],
        ['c', '王芳'],
      ])
        await accounts.link(dingtalkIdentity(key!, { name: name! }));
      assert.deepEqual(
        (await accounts.list()).map((a: Account) => a.username),
        ['lilei', 'wangfang', 'zhaoliu'],
      );
    });
  });
}

describe('accounts: any identity', () => {
  it('links to a valid, unreserved username that later logins keep', async (t) => {
    const { accounts } = setup(STORE_KINDS[0]!, t, { reserved: ['ops'] });
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const hint = fc.record({
      source: fc.constantFrom('orgEmail', 'email', 'pinyin', 'jobNumber', 'userid' as const),
      value: fc.oneof(text, fc.emailAddress()),
    });
    await fc.assert(
      fc.asyncProperty(text, fc.option(text), fc.array(hint, { maxLength: 4 }), async (key, name, hints) => {
        const identity = dingtalkIdentity(`any:${key}`, { hints, ...(name === null ? {} : { name }) });
        const account = await accounts.link(identity);
        assert.ok(isValidUsername(account.username), account.username);
        assert.ok(!['admin', 'root', 'system', 'kubesphere', 'ops'].includes(account.username));
        assert.equal((await accounts.link(identity)).username, account.username);
      }),
      { numRuns: 100 },
    );
  });
});
