// Proves src/cli/kubesphere-migrate.ts on exported 3.x and 4.x User objects (test/fixtures/kubesphere)
// against the real accounts library on the local Redis: mapped, unmapped and clashing users, the
// printed kubectl commands, a dry run that writes nothing, and legacySubject.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createAccounts, subjectFor, unvouchedUpstreamsOf } from '../../src/accounts/index.js';
import { runMigrate } from '../../src/cli/kubesphere-migrate.js';
import { parseConfig } from '../../src/config/load.js';
import { legacySubjectUpstreamsOf } from '../../src/config/schema.js';
import { openRedisStore } from '../../src/store/redis.js';
import { captureLog } from '../accounts/fixtures.js';
import { LOCAL_REDIS_URL, cleanupPrefix, testPrefix } from '../helpers/redis.js';

const FIXTURES = 'test/fixtures/kubesphere';
const IDAAS_DOMAIN = 'oauth2:idaas.example.com';
const DINGTALK_DOMAIN = 'dingtalk:ding1';

function configWith(idaasExtra = '') {
  return parseConfig(
    `
issuer: https://sso.example.com
cookieSecrets: ["${'c'.repeat(40)}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: k, clientSecret: s, corpId: ding1, linkKey: userid }
  - { id: idaas, type: oauth2, preset: aliyun-idaas, baseURL: "https://idaas.example.com", clientId: i, clientSecret: s${idaasExtra} }
clients:
  - { client_id: kubesphere, client_secret: shh, redirect_uris: [https://ks.example.com/oauth/redirect/bridge] }
`,
    {},
    'test',
  );
}

async function setup(t: TestContext, config = configWith()) {
  const prefix = testPrefix('test:migrate');
  const store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
  t.after(async () => {
    await store.close();
    await cleanupPrefix(prefix);
  });
  const accounts = createAccounts({
    store,
    usernames: config.usernames,
    unvouchedUpstreams: unvouchedUpstreamsOf(config.upstreams),
    legacySubjectUpstreams: legacySubjectUpstreamsOf(config.upstreams),
    log: captureLog(),
  });
  const migrate = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runMigrate(
      config,
      args,
      {
        stdout: (s) => {
          out += s;
        },
        stderr: (s) => {
          err += s;
        },
      },
      (fn) => fn(accounts),
    );
    return {
      code,
      out,
      err,
      commands: out.split('\n').filter((l) => l.startsWith('kubectl ')),
      undo: out.split('\n').filter((l) => l.startsWith('# kubectl ')),
    };
  };
  /** Every durable record, to prove a dry run wrote nothing. */
  const snapshot = async () => {
    const keys = (await store.durable.keys()).sort();
    return Promise.all(keys.map(async (k) => [k, await store.durable.get(k)] as const));
  };
  return { store, accounts, migrate, snapshot };
}

const idaasIdentity = (sub: string) => ({
  upstream: 'idaas',
  subject: sub,
  linkDomain: IDAAS_DOMAIN,
  linkKey: sub,
  usernameHints: [{ source: 'email' as const, value: 'someone-else@example.com' }],
  groups: [],
  extra: {},
});

describe('oidc-bridge kubesphere migrate', () => {
  it('3.x by IDaaS sub: maps, reports the unmappable and the clashes, and a dry run writes nothing', async (t) => {
    const { accounts, migrate, snapshot } = await setup(t);
    // Someone already holds "lisi" at the bridge: lisi of KubeSphere clashes with them.
    await accounts.adopt(idaasIdentity('9999'), 'lisi');
    const before = await snapshot();

    const dry = await migrate(
      '--users',
      `${FIXTURES}/users-3x.yaml`,
      '--name',
      'bridge',
      '--map-by',
      'idaas-sub',
      '--from-idp',
      'idaas',
      '--dry-run',
    );
    assert.equal(dry.code, 1, 'some linked users were not mapped');
    assert.deepEqual(await snapshot(), before, 'the dry run changed nothing in Redis');
    assert.match(dry.out, /^# DRY RUN/);
    const zhangsanSub = subjectFor(IDAAS_DOMAIN, '1001');
    assert.deepEqual(dry.commands, [
      `kubectl label user zhangsan --overwrite iam.kubesphere.io/identify-provider=bridge iam.kubesphere.io/origin-uid=${zhangsanSub}`,
    ]);
    assert.deepEqual(dry.undo, [
      '# kubectl label user zhangsan --overwrite iam.kubesphere.io/identify-provider=idaas iam.kubesphere.io/origin-uid=1001',
    ]);
    assert.match(dry.err, /mapped {2}zhangsan: would-create/);
    assert.match(dry.err, /NOT MAPPED {2}lisi: name clash: "lisi" belongs to another account/);
    assert.match(dry.err, /NOT MAPPED {2}zhangsan-old: maps to the same person as zhangsan/);
    assert.match(dry.err, /NOT MAPPED {2}ldapuser: not linked to identity provider idaas/);
    assert.match(dry.err, /NOT MAPPED {2}admin: linked to no identity provider .*accounts reserve --from-kubesphere/);

    const real = await migrate('--users', `${FIXTURES}/users-3x.yaml`, '--name', 'bridge', '--map-by', 'idaas-sub', '--from-idp', 'idaas');
    assert.equal(real.code, 1);
    assert.deepEqual(real.commands, dry.commands, 'the dry run printed what the real run does');
    const account = await accounts.findByUsername('zhangsan');
    assert.equal(account?.sub, zhangsanSub);
    assert.equal(account?.linkDomain, IDAAS_DOMAIN);
    // The person's first login through IDaaS finds the account and keeps the name (no candidate is tried).
    const linked = await accounts.link(idaasIdentity('1001'));
    assert.equal(linked.sub, zhangsanSub);
    assert.equal(linked.username, 'zhangsan');

    const again = await migrate('--users', `${FIXTURES}/users-3x.yaml`, '--name', 'bridge', '--map-by', 'idaas-sub', '--from-idp', 'idaas');
    assert.match(again.err, /mapped {2}zhangsan: exists/, 'running it twice is harmless');
  });

  it('4.x by an admin CSV onto DingTalk userids: annotate commands that leave the old link in place', async (t) => {
    const { accounts, migrate } = await setup(t);
    const run = await migrate(
      '--users',
      `${FIXTURES}/users-4x.yaml`,
      '--name',
      'bridge',
      '--map-by',
      'csv',
      '--csv',
      `${FIXTURES}/mapping.csv`,
    );
    const wangfang = subjectFor(DINGTALK_DOMAIN, 'fang.wang.userid');
    const zhaoliu = subjectFor(DINGTALK_DOMAIN, 'zhaoliu-userid');
    assert.deepEqual(run.commands, [
      `kubectl annotate user wangfang --overwrite iam.kubesphere.io/identity-provider.bridge=${wangfang}`,
      `kubectl annotate user zhaoliu --overwrite iam.kubesphere.io/identity-provider.bridge=${zhaoliu}`,
    ]);
    assert.deepEqual(run.undo, [
      '# kubectl annotate user wangfang iam.kubesphere.io/identity-provider.bridge-',
      '# kubectl annotate user zhaoliu iam.kubesphere.io/identity-provider.bridge-',
    ]);
    assert.match(run.err, /NOT MAPPED {2}sunqi: not in the CSV file/);
    assert.equal(run.code, 1);
    assert.equal((await accounts.get(wangfang))?.username, 'wangfang');
    assert.equal((await accounts.get(zhaoliu))?.username, 'zhaoliu');
  });

  it('4.x by DingTalk userid needs the upstream to link by userid', async (t) => {
    const config = parseConfig(
      `
issuer: https://sso.example.com
cookieSecrets: ["${'c'.repeat(40)}"]
upstreams: [{ id: dingtalk, type: dingtalk, clientId: k, clientSecret: s, corpId: ding1 }]
clients: [{ client_id: kubesphere, client_secret: shh, redirect_uris: [https://ks.example.com/oauth/redirect/bridge] }]
`,
      {},
      'test',
    );
    const { migrate } = await setup(t, config);
    const run = await migrate('--users', `${FIXTURES}/users-4x.yaml`, '--name', 'bridge', '--map-by', 'dingtalk-userid');
    assert.equal(run.code, 1);
    assert.deepEqual(run.commands, []);
    assert.match(run.err, /NOT MAPPED {2}wangfang: upstream dingtalk links people by unionId.*set linkKey: userid/);
  });

  it('with legacySubject the account keeps the IDaaS sub, so 3.x only needs the new name', async (t) => {
    const { accounts, migrate } = await setup(t, configWith(', legacySubject: true'));
    const run = await migrate('--users', `${FIXTURES}/users-3x.yaml`, '--name', 'bridge', '--map-by', 'idaas-sub', '--from-idp', 'idaas');
    assert.ok(
      run.commands.includes(
        'kubectl label user zhangsan --overwrite iam.kubesphere.io/identify-provider=bridge iam.kubesphere.io/origin-uid=1001',
      ),
    );
    assert.equal((await accounts.get('1001'))?.username, 'zhangsan');
    assert.equal((await accounts.link(idaasIdentity('1001'))).sub, '1001');
  });

  it('refuses an identity provider name that is no label value, and a missing users file', async (t) => {
    const { migrate } = await setup(t);
    const bad = await migrate('--users', `${FIXTURES}/users-3x.yaml`, '--name', 'new idp', '--map-by', 'idaas-sub');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--name: "new idp" is not a valid Kubernetes label value/);
    const missing = await migrate('--users', `${FIXTURES}/nope.yaml`, '--name', 'bridge', '--map-by', 'idaas-sub');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /ENOENT/);
    const usage = await migrate('--users', `${FIXTURES}/users-3x.yaml`, '--name', 'bridge', '--map-by', 'csv');
    assert.equal(usage.code, 2);
  });
});
