// Error pages show the upstream's own explanation (UpstreamError.detail.text): the missing
// permission, the refused server IP, why a person is not allowed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDingTalkSandbox, SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID, sampleUserids } from '../../src/sandbox/index.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { pageFacts } from '../helpers/pages.js';

describe('DingTalk error pages explain the cause and the fix', () => {
  const sandbox = createDingTalkSandbox({
    apps: [
      { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [] },
      {
        appKey: 'dingnoreadapp',
        appSecret: 'noread-app-secret-1',
        corpId: SANDBOX_CORP_ID,
        redirectUris: [],
        grantedScopes: ['Contact.User.mobile'],
      },
      {
        appKey: 'dingiplockedapp',
        appSecret: 'iplocked-app-secret-1',
        corpId: SANDBOX_CORP_ID,
        redirectUris: [],
        allowedIps: ['203.0.113.9'],
      },
    ],
  });
  let fb: DingTalkBridge;
  let noRead: DingTalkBridge;
  let ipLocked: DingTalkBridge;
  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', sandbox });
    noRead = await startBridge({
      upstream: 'dingtalk',
      store: 'memory',
      sandbox,
      dingtalk: { clientId: 'dingnoreadapp', clientSecret: 'noread-app-secret-1' },
    });
    ipLocked = await startBridge({
      upstream: 'dingtalk',
      store: 'memory',
      sandbox,
      dingtalk: { clientId: 'dingiplockedapp', clientSecret: 'iplocked-app-secret-1' },
    });
  });
  after(async () => {
    await Promise.all([fb, noRead, ipLocked].map((b) => b.close()));
  });

  it('names the missing permission Contact.User.Read', async () => {
    const login = await noRead.loginAs(sampleUserids.manager, 'kubesphere');
    assert.equal(login.page?.status, 502);
    assert.match(login.page.html, /Contact\.User\.Read/);
  });

  it('shows the server IP DingTalk refused', async () => {
    const login = await ipLocked.loginAs(sampleUserids.manager, 'kubesphere');
    assert.equal(login.page?.status, 502);
    assert.match(login.page.html, /127\.0\.0\.1/);
  });

  it('tags the DingTalk call failure log line with the reference number the page shows', async () => {
    const login = await ipLocked.loginAs(sampleUserids.manager, 'kubesphere');
    const reference = pageFacts(login.page!.html).requestId;
    assert.ok(reference, 'the page shows a reference number');
    const failures = ipLocked.logs.filter((l) => l.msg === 'DingTalk call failed' && l.reqId === reference);
    assert.ok(failures.length > 0, 'the DingTalk failure is logged under the page reference');
    assert.ok(
      failures.every((l) => typeof l.code === 'string' || typeof l.code === 'number'),
      "with DingTalk's code",
    );
  });

  it('says why a person is not allowed (left / external contact / other organisation)', async () => {
    assert.match((await fb.loginAs(sampleUserids.departed, 'kubesphere')).page!.html, /不是本组织的成员（或已离职）/);
    assert.match((await fb.loginAs(sampleUserids.externalContact, 'kubesphere')).page!.html, /外部联系人/);
    assert.match((await fb.loginAs(sampleUserids.otherOrg, 'kubesphere', { issuedCode: {} })).page!.html, /dingsandbox0002/);
  });
});
