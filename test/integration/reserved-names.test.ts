// Names that already exist in KubeSphere, reserved with `oidc-bridge accounts reserve
// --from-kubesphere` (src/cli/accounts.ts) in the bridge's store, are never given to a DingTalk
// person at login: the sandbox DingTalk's 张伟 (org mailbox wei.zhang@…) gets his next candidate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAccountsCommand } from '../../src/cli/accounts.js';
import { sampleUserids } from '../../src/sandbox/sample-organisation.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';

describe('reserved KubeSphere names at a DingTalk login', () => {
  let fb: DingTalkBridge;
  let dir: string;
  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'redis', replicas: 2 });
    dir = mkdtempSync(join(tmpdir(), 'reserved-names-'));
  });
  after(async () => {
    await fb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const nameOf = async (userid: string) => {
    const login = await fb.loginAs(userid, 'kubesphere', { scope: 'openid profile' });
    assert.ok(login.redirect, `expected a code, got ${login.page?.status}`);
    return (await fb.tokens(login)).claims()!.preferred_username;
  };

  it('a person whose first candidate is a reserved name gets another one, on every replica', async () => {
    const users = join(dir, 'users.yaml');
    writeFileSync(
      users,
      [
        'apiVersion: iam.kubesphere.io/v1beta1',
        'kind: User',
        'metadata: { name: wei.zhang }',
        '---',
        'apiVersion: iam.kubesphere.io/v1beta1',
        'kind: User',
        'metadata: { name: admin }',
        '',
      ].join('\n'),
    );
    let out = '';
    const code = await runAccountsCommand(['reserve', '--from-kubesphere', users], {
      accounts: fb.replicas[1]!.accounts,
      stdout: (s) => {
        out += s;
      },
      stderr: () => {},
    });
    assert.equal(code, 0);
    assert.match(out, /Reserved 2 names/);
    const name = await nameOf(sampleUserids.manager);
    assert.notEqual(name, 'wei.zhang');
    assert.equal(name, 'zhangwei', 'the next candidate: the pinyin of 张伟');
  });
});
