// Proves the migration parts of src/accounts: `legacySubject` (src/accounts/subject.ts and the
// `link:` alias of src/accounts/account-records.ts), reserved names in the store
// (src/accounts/reservations.ts) and `adopt`, on the memory store and the local Redis, across replicas.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createAccounts } from '../../src/accounts/accounts.js';
import { legacySubjectOf, subjectFor } from '../../src/accounts/subject.js';
import type { UpstreamIdentity } from '../../src/upstreams/types.js';
import { CORP, STORE_KINDS, captureLog, dingtalkIdentity, usernamesConfig, type StoreKind } from './fixtures.js';

const IDAAS = 'oauth2:idaas.example.com';

const idaas = (sub: string, upstream = 'idaas', linkDomain = IDAAS): UpstreamIdentity => ({
  upstream,
  subject: sub,
  linkDomain,
  linkKey: sub,
  usernameHints: [{ source: 'email', value: `user${sub}@example.com` }],
  groups: [],
  extra: {},
});

function setup(kind: StoreKind, t: TestContext, legacy: string[] = []) {
  const replicas = kind.fresh();
  t.after(() => replicas.close());
  const log = captureLog();
  const open = () =>
    createAccounts({
      store: replicas.open(),
      usernames: usernamesConfig({ candidates: ['email', 'pinyin', 'hash'] }),
      legacySubjectUpstreams: new Set(legacy),
      log,
    });
  return { accounts: open(), replica: open, log };
}

for (const kind of STORE_KINDS) {
  describe(`legacySubject on ${kind.name}`, () => {
    it("an account first seen through the upstream keeps the upstream's sub, on every later login and replica", async (t) => {
      const { accounts, replica } = setup(kind, t, ['idaas']);
      const first = await accounts.link(idaas('u-1001'));
      assert.equal(first.sub, 'u-1001');
      const other = replica();
      for (const a of [accounts, other]) {
        const again = await a.link(idaas('u-1001'));
        assert.equal(again.sub, 'u-1001', 'stable');
        assert.equal(again.username, first.username);
      }
      assert.equal((await other.markChecked('u-1001', idaas('u-1001'))).sub, 'u-1001', 'rechecks find it too');
      assert.equal((await other.list()).length, 1, 'one account, not one per login');
    });

    it('an upstream without it, and accounts from before it was turned on, keep the derived sub', async (t) => {
      const before = setup(kind, t);
      const derived = await before.accounts.link(idaas('u-7'));
      assert.equal(derived.sub, subjectFor(IDAAS, 'u-7'));
      const { accounts } = setup(kind, t, ['idaas']);
      assert.equal(
        (await accounts.link(idaas('u-8', 'other', 'oauth2:other.example.com'))).sub,
        subjectFor('oauth2:other.example.com', 'u-8'),
      );
    });

    it('two upstreams giving one subject value never share an account', async (t) => {
      const { accounts } = setup(kind, t, ['idaas', 'idaas2']);
      await accounts.link(idaas('42'));
      await assert.rejects(
        accounts.link(idaas('42', 'idaas2', 'oauth2:idaas2.example.com')),
        /already belongs to a person of oauth2:idaas\.example\.com/,
      );
    });
  });

  describe(`reserved names and adopt on ${kind.name}`, () => {
    it('a reserved name is never given at login, on any replica; its person may still adopt it', async (t) => {
      const { accounts, replica } = setup(kind, t);
      const result = await accounts.reserve(['User1001', 'user1002', 'Not Valid', 'user1001'], 'kubesphere');
      assert.deepEqual(result, { reserved: ['user1001', 'user1002'], already: [], owned: [], invalid: ['not valid'] });
      const other = replica();
      const stranger = await other.link(idaas('1001'));
      assert.notEqual(stranger.username, 'user1001', 'the email candidate is reserved: the next one is used');
      const adopted = await other.adopt(idaas('1002'), 'user1002');
      assert.deepEqual(adopted, { outcome: 'created', sub: subjectFor(IDAAS, '1002'), username: 'user1002' });
      assert.equal((await accounts.link(idaas('1002'))).username, 'user1002');
      assert.deepEqual(await accounts.reservations(), [{ username: 'user1001', source: 'kubesphere' }]);
      assert.deepEqual(await accounts.reserve(['user1001', 'user1002'], 'list'), {
        reserved: [],
        already: ['user1001'],
        owned: ['user1002'],
        invalid: [],
      });
    });

    it('unreserve lifts a reservation only, never a name a person has', async (t) => {
      const { accounts } = setup(kind, t);
      await accounts.reserve(['user1001'], 'list');
      const person = await accounts.link(dingtalkIdentity('k1', { name: '王芳' }));
      assert.equal(await accounts.unreserve(person.username), false);
      assert.equal(await accounts.unreserve('user1001'), true);
      assert.equal((await accounts.link(idaas('1001'))).username, 'user1001');
    });

    it('adopt reports clashes and changes nothing in a dry run', async (t) => {
      const { accounts } = setup(kind, t);
      const fang = await accounts.link(dingtalkIdentity('k1', { name: '王芳' }));
      assert.equal((await accounts.adopt(idaas('5'), fang.username)).outcome, 'clash');
      const renamed = await accounts.adopt(dingtalkIdentity('k1'), 'fang');
      assert.equal(renamed.outcome, 'clash');
      assert.match(renamed.reason!, /already has the account "wangfang".*accounts rename wangfang fang/);
      assert.match((await accounts.adopt(idaas('6'), 'admin')).reason!, /reserved/);
      const dry = await accounts.adopt(idaas('7'), 'seven', { dryRun: true });
      assert.deepEqual(dry, { outcome: 'would-create', sub: subjectFor(IDAAS, '7'), username: 'seven' });
      assert.equal(await accounts.findByUsername('seven'), undefined);
      assert.equal(await accounts.get(subjectFor(CORP, 'k2')), undefined);
    });
  });
}

describe('legacySubjectOf', () => {
  it('keeps what can be a sub, refuses what cannot', () => {
    assert.equal(legacySubjectOf('1001'), '1001');
    assert.equal(legacySubjectOf('a'.repeat(255)), 'a'.repeat(255));
    for (const bad of ['', 'a b', 'a'.repeat(256), 'ü']) assert.equal(legacySubjectOf(bad), undefined);
  });
});
