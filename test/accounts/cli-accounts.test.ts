// Proves src/cli/accounts.ts against the real accounts library on the memory store.
import { describe, it, type TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { createAccounts } from '../../src/accounts/accounts.js';
import { runAccountsCommand } from '../../src/cli/accounts.js';
import { openMemoryStore } from '../../src/store/memory.js';
import { captureLog, dingtalkIdentity, usernamesConfig } from './fixtures.js';

async function setup(t: TestContext) {
  const store = openMemoryStore();
  t.after(() => store.close());
  const log = captureLog();
  const accounts = createAccounts({ store, usernames: usernamesConfig({ candidates: ['pinyin'] }), log, now: () => 1_700_000_000 });
  const fang = await accounts.link(dingtalkIdentity('k1', { name: '王芳', connectorData: 'userid=u1;token=SECRET' }));
  const lei = await accounts.link(dingtalkIdentity('k2', { name: '李雷' }));
  const run = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runAccountsCommand(args, {
      accounts,
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    });
    return { code, out, err };
  };
  return { store, log, accounts, fang, lei, run };
}

describe('oidc-bridge accounts', () => {
  it('list prints a table, or JSON without connectorData', async (t) => {
    const { run, fang } = await setup(t);
    const table = await run('list');
    assert.equal(table.code, 0);
    const lines = table.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^USERNAME\s+SUB\s+STATUS\s+UPSTREAM\s+CREATED\s+LAST CHECKED$/);
    assert.match(lines[2]!, new RegExp(`^wangfang\\s+${fang.sub}\\s+active\\s+dingtalk\\s+2023-11-14T22:13:20Z\\s+2023-11-14T22:13:20Z$`));
    assert.equal(lines.length, 3);
    const json = await run('list', '--json');
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.out) as { username: string; profile: Record<string, unknown> }[];
    assert.deepEqual(
      parsed.map((a) => a.username),
      ['lilei', 'wangfang'],
    );
    assert.ok(parsed.every((a) => !('connectorData' in a.profile)));
    assert.ok(!json.out.includes('SECRET'));
  });

  it('show prints one account by username or sub, without connectorData', async (t) => {
    const { run, fang } = await setup(t);
    for (const ref of ['wangfang', fang.sub]) {
      const { code, out } = await run('show', ref);
      assert.equal(code, 0);
      const shown = JSON.parse(out) as { sub: string; profile: Record<string, unknown> };
      assert.equal(shown.sub, fang.sub);
      assert.equal(shown.profile.name, '王芳');
      assert.ok(!out.includes('SECRET'));
    }
  });

  it('rename renames and audits; bad names and unknown people exit 1 with a clear message', async (t) => {
    const { run, log, accounts, fang } = await setup(t);
    const ok = await run('rename', 'wangfang', 'fang.wang');
    assert.equal(ok.code, 0);
    assert.match(ok.out, /Renamed wangfang to fang\.wang .*"wangfang" stays reserved/);
    assert.equal((await accounts.get(fang.sub))?.username, 'fang.wang');
    assert.deepEqual(log.audits('account.rename'), [{ audit: 'account.rename', sub: fang.sub, from: 'wangfang', to: 'fang.wang' }]);
    const invalid = await run('rename', 'lilei', 'Li_Lei');
    assert.equal(invalid.code, 1);
    assert.match(invalid.err, /^error: invalid username "Li_Lei": expected lowercase/);
    const taken = await run('rename', 'lilei', 'wangfang');
    assert.equal(taken.code, 1);
    assert.match(taken.err, /username "wangfang" is already taken/);
    const unknown = await run('rename', 'nobody', 'x');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no account "nobody"/);
    assert.ok(![invalid, taken, unknown].some((r) => /\n\s+at /.test(r.err)), 'no stack traces');
  });

  it('revoke prints what ended and audits', async (t) => {
    const { run, store, log, lei } = await setup(t);
    await store.model('Grant').upsert('g1', { accountId: lei.sub }, 600);
    await store.model('Grant').upsert('g2', { accountId: lei.sub }, 600);
    await store.model('Session').upsert('s1', { accountId: lei.sub, uid: 'u1' }, 600);
    const { code, out } = await run('revoke', 'lilei', '--reason', 'laptop stolen');
    assert.equal(code, 0);
    assert.equal(out, `Revoked lilei (sub ${lei.sub}): ended 2 grants and 1 session.\n`);
    assert.deepEqual(
      log.audits('account.revoke').map((a) => [a.reason, a.grants, a.sessions]),
      [['laptop stolen', 2, 1]],
    );
    const unknown = await run('revoke', 'nobody');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no account "nobody"/);
  });

  it('reactivate brings back an account marked left', async (t) => {
    const { run, accounts, lei } = await setup(t);
    await accounts.markLeft(lei.sub);
    const { code, out } = await run('reactivate', 'lilei');
    assert.equal(code, 0);
    assert.equal(out, `lilei (sub ${lei.sub}) is active.\n`);
    assert.equal((await accounts.get(lei.sub))?.status, 'active');
  });

  it('reserve from a KubeSphere export or a list, reserved lists them, unreserve lifts one', async (t) => {
    const { run } = await setup(t);
    const dir = mkdtempSync(join(tmpdir(), 'cli-reserve-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'names.txt'), 'ops\n# a comment\n\nwangfang\nNot_Valid\n');
    const list = await run('reserve', '--from-list', join(dir, 'names.txt'));
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^Reserved 1 name; 0 already reserved; 1 already a person's/);
    assert.match(list.out, /never gives such names: not_valid/);
    const ks = await run('reserve', '--from-kubesphere', 'test/fixtures/kubesphere/users-3x.yaml');
    assert.equal(ks.code, 0, ks.err);
    const reserved = await run('reserved', '--json');
    assert.deepEqual(
      (JSON.parse(reserved.out) as { username: string; source: string }[]).map((r) => `${r.username}:${r.source}`),
      ['admin:kubesphere', 'ldapuser:kubesphere', 'lisi:kubesphere', 'ops:list', 'zhangsan:kubesphere', 'zhangsan-old:kubesphere'],
    );
    assert.equal((await run('unreserve', 'ops')).code, 0);
    const notReserved = await run('unreserve', 'wangfang');
    assert.equal(notReserved.code, 1);
    assert.match(notReserved.err, /"wangfang" is not reserved/);
    assert.equal((await run('reserve')).code, 2, 'one source is needed');
    const missing = await run('reserve', '--from-list', join(dir, 'nope.txt'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^error: ENOENT/);
  });

  it('usage errors exit 2 and print the usage', async (t) => {
    const { run } = await setup(t);
    for (const args of [[], ['frobnicate'], ['show'], ['rename', 'a'], ['list', 'extra'], ['show', 'x', '--json'], ['list', '--bogus']]) {
      const { code, err } = await run(...args);
      assert.equal(code, 2, args.join(' '));
      assert.match(err, /Usage: oidc-bridge accounts/);
    }
    const help = await run('--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /rename <username\|sub> <new>/);
    assert.equal((await run('list', '--config', 'x.yaml')).code, 0);
  });
});
