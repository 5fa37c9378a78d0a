// `oidc-bridge doctor` as an operator runs it: a separate process against a running bridge, the
// DingTalk sandbox (with its fault switches and restricted apps), a fake OIDC issuer, real Redis
// (a private redis-server for a bad eviction policy). One row per seeded misconfiguration, each
// found with its id and a fix; a healthy config passes with exit status 0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccounts } from '../../src/accounts/index.js';
import { diagnose } from '../../src/cli/doctor.js';
import { exitCodeOf } from '../../src/cli/doctor/findings.js';
import { parseConfig } from '../../src/config/load.js';
import { createDingTalkSandbox, sampleDeptIds, SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID } from '../../src/sandbox/index.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { captureLog, dingtalkIdentity, usernamesConfig } from '../accounts/fixtures.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../doubles/fake-oidc-issuer.js';
import { json, startHttpDouble, type HttpDouble } from '../doubles/http-double.js';
import { COOKIE_SECRET, startBridge, type ConfigInput, type DingTalkBridge } from '../helpers/bridge.js';
import { dingtalkUpstream, KUBESPHERE_SECRET, kubectlClient, kubesphereClient } from '../helpers/dingtalk-login.js';
import { freshKeysDir } from '../helpers/keys.js';
import { freePort, LOCAL_REDIS_URL, startRedisServer, type RedisServer } from '../helpers/redis.js';
import { runProcess, type ProcessResult } from '../helpers/run-process.js';
import { startEgressProxy } from '../doubles/egress-proxy.js';

interface Finding {
  id: string;
  severity: 'error' | 'warning' | 'ok';
  subject: string;
  message: string;
  fix: string | null;
}
interface Report {
  version: number;
  ok: boolean;
  summary: { error: number; warning: number; ok: number };
  findings: Finding[];
}

const RESTRICTED_APP = { appKey: 'dingrestricted', appSecret: 'restricted-app-secret-0123456789' };
const NARROW_APP = { appKey: 'dingnarrow', appSecret: 'narrow-app-secret-0123456789abcdef' };

/** Each `doctor` process starts TypeScript through tsx: seconds on a busy machine, so a wide margin. */
const PROCESS_TIMEOUT = { timeout: 180_000 };

const SECRETS = [SANDBOX_APP_SECRET, KUBESPHERE_SECRET, COOKIE_SECRET, RESTRICTED_APP.appSecret, NARROW_APP.appSecret];

describe('oidc-bridge doctor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const sandbox = createDingTalkSandbox({
    apps: [
      { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [] },
      // Its allow-list names another address: the doctor's calls come from 127.0.0.1.
      { ...RESTRICTED_APP, corpId: SANDBOX_CORP_ID, redirectUris: [], allowedIps: ['203.0.113.7'] },
      { ...NARROW_APP, corpId: SANDBOX_CORP_ID, redirectUris: [], contactsScope: [sampleDeptIds.rd] },
    ],
  });
  let bridge: DingTalkBridge;
  let oidc: FakeOidcIssuer;
  let slashed: HttpDouble;
  let selfSigned: HttpsServer;
  let selfSignedUrl: string;
  let evicting: RedisServer;
  let noRs256Keys: string;
  let closedPort: number;
  let store: Store;
  let heldName: string;

  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> =>
    runProcess(process.execPath, ['bin/oidc-bridge.js', 'doctor', ...args], {
      env: { ...process.env, OIDC_BRIDGE_CONFIG: '', NODE_ENV: 'test', ...env },
    });

  /** The healthy configuration: the running bridge's issuer, keys and store, the sandbox app, a reachable OIDC upstream. */
  const healthy = (): ConfigInput => ({
    issuer: bridge.issuer,
    store: { type: 'redis', url: LOCAL_REDIS_URL, keyPrefix: bridge.keyPrefix },
    keys: { dir: bridge.config.keys.dir },
    cookieSecrets: [COOKIE_SECRET],
    upstreams: [
      dingtalkUpstream(bridge.sandboxUrl),
      { id: 'corp', type: 'oidc', issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret },
    ],
    clients: [
      kubesphereClient(),
      kubectlClient(),
      // A web application in development: a loopback redirect with a path, confidential, and fine.
      { client_id: 'web-dev', client_secret: KUBESPHERE_SECRET, redirect_uris: ['http://localhost:3000/callback'] },
    ],
  });

  let files = 0;
  /** Writes the config (JSON is YAML) and runs doctor --json on it. */
  async function doctor(
    config: ConfigInput,
    extra: string[] = [],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ run: ProcessResult; report: Report }> {
    const file = join(dir, `config-${(files += 1)}.yaml`);
    writeFileSync(file, JSON.stringify(config));
    const result = await run(['--config', file, '--json', ...extra], env);
    assert.doesNotMatch(result.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    for (const secret of SECRETS) assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'no secret in the output');
    return { run: result, report: JSON.parse(result.stdout) as Report };
  }

  const dingtalk = (overrides: Record<string, unknown>) => (c: ConfigInput) => {
    c.upstreams[0] = dingtalkUpstream(bridge.sandboxUrl, overrides);
  };

  before(async () => {
    bridge = await startBridge({ upstream: 'dingtalk', store: 'redis', sandbox });
    oidc = await startFakeOidcIssuer();
    slashed = await startHttpDouble({
      // Discovery that names the issuer with a trailing slash (another deployment's idea of it), keys from the bridge.
      'GET /.well-known/openid-configuration': (_req, res) =>
        json(res, 200, { issuer: `${slashed.url}/`, jwks_uri: `${bridge.issuer}/jwks` }),
    });
    // An issuer behind a certificate nobody trusts: what a private CA looks like to a process without it.
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')],
      ],
      { stdio: 'ignore' },
    );
    selfSigned = createHttpsServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'tls.crt')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => selfSigned.listen(0, '127.0.0.1', resolve));
    selfSignedUrl = `https://127.0.0.1:${(selfSigned.address() as AddressInfo).port}`;
    evicting = await startRedisServer({ args: () => ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
    noRs256Keys = await freshKeysDir();
    for (const name of readdirSync(noRs256Keys).filter((n) => n.includes('-rs256-'))) rmSync(join(noRs256Keys, name));
    closedPort = await freePort();
    store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: bridge.keyPrefix });
    const accounts = createAccounts({ store, usernames: usernamesConfig(), log: captureLog() });
    heldName = (await accounts.link(dingtalkIdentity('held-person'))).username;
  });

  after(async () => {
    await store?.close();
    await bridge?.close();
    await oidc?.close();
    await slashed?.close();
    selfSigned?.closeAllConnections();
    await new Promise((resolve) => (selfSigned ? selfSigned.close(resolve) : resolve(undefined)));
    await evicting?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes a healthy configuration: exit status 0 with warnings only, every area checked', PROCESS_TIMEOUT, async () => {
    const { run: result, report } = await doctor(healthy());
    assert.equal(result.code, 0, result.stdout);
    // A Redis store without store.encryptionKeys: a warning, which alone never fails the run.
    assert.ok(report.findings.some((f) => f.severity === 'warning' && f.id === 'config.warning'));
    assert.equal(report.version, 1);
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.findings.filter((f) => f.severity === 'error'),
      [],
    );
    const okIds = new Set(report.findings.filter((f) => f.severity === 'ok').map((f) => f.id));
    for (const id of [
      'issuer.discovery',
      'issuer.match',
      'issuer.jwks',
      'issuer.rs256',
      'keys.rs256',
      'keys.permissions',
      'client.redirect-uri',
      'client.public-pkce',
      'client.refresh-grant',
      'upstream.reachable',
      'upstream.discovery',
      'dingtalk.app-token',
      'dingtalk.ip-allowlist',
      'dingtalk.permission',
      'dingtalk.contacts-scope',
      'store.reachable',
      'store.eviction-policy',
      'store.key-prefix',
    ]) {
      assert.ok(okIds.has(id), `${id} is checked and ok`);
    }
    assert.deepEqual(report.summary, {
      error: 0,
      warning: report.findings.filter((f) => f.severity === 'warning').length,
      ok: report.findings.filter((f) => f.severity === 'ok').length,
    });
    for (const f of report.findings) assert.equal(f.fix === null, f.severity === 'ok', `${f.id}: a fix exactly when something is wrong`);
  });

  const rows: {
    name: string;
    seed: (config: ConfigInput) => void;
    before?: () => void;
    expect: { id: string; subject?: string; message?: RegExp; fix?: RegExp };
  }[] = [
    {
      name: 'issuer string differs from what discovery names (trailing slash)',
      seed: (c) => {
        c.issuer = slashed.url;
      },
      expect: { id: 'issuer.match', subject: 'issuer', message: /ends with a slash/ },
    },
    {
      name: "issuer's TLS certificate not trusted (self-signed or a private CA)",
      seed: (c) => {
        c.issuer = selfSignedUrl;
      },
      expect: {
        id: 'issuer.discovery',
        subject: 'issuer',
        message: /TLS failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
        fix: /NODE_EXTRA_CA_CERTS/,
      },
    },
    {
      name: 'no RS256 key in keys.dir',
      seed: (c) => {
        c.keys = { dir: noRs256Keys };
      },
      expect: { id: 'keys.rs256', message: /no active RS256 key/ },
    },
    {
      name: 'KubeSphere client without /oauth/redirect/<name>',
      seed: (c) => {
        c.clients[0] = kubesphereClient('https://ks.example.test/oauth/callback');
      },
      expect: { id: 'client.redirect-uri', subject: 'client kubesphere', message: /oauth\/redirect/ },
    },
    {
      name: 'kubectl client confidential',
      seed: (c) => {
        c.clients[1] = { ...kubectlClient(), token_endpoint_auth_method: 'client_secret_basic', client_secret: KUBESPHERE_SECRET };
      },
      expect: { id: 'client.public-pkce', subject: 'client kubectl', message: /confidential/ },
    },
    {
      name: 'offline_access without the refresh_token grant',
      seed: (c) => {
        c.clients.push({
          client_id: 'grafana',
          client_secret: KUBESPHERE_SECRET,
          redirect_uris: ['https://grafana.example.test/login/generic_oauth'],
          scope: 'openid profile email offline_access',
          grant_types: ['authorization_code'],
        });
      },
      expect: { id: 'client.refresh-grant', subject: 'client grafana', message: /offline_access/ },
    },
    {
      name: 'placeholder client secret',
      seed: (c) => {
        c.clients.push({ client_id: 'app', client_secret: 'changeme', redirect_uris: ['https://app.example.test/cb'] });
      },
      expect: { id: 'secret.placeholder', subject: 'client app' },
    },
    {
      name: 'unreachable OIDC upstream',
      seed: (c) => {
        c.upstreams[1] = { id: 'corp', type: 'oidc', issuer: `http://127.0.0.1:${closedPort}`, clientId: 'x', clientSecret: 'y' };
      },
      expect: { id: 'upstream.reachable', subject: 'upstream corp', message: /ECONNREFUSED/ },
    },
    {
      name: 'DingTalk: wrong AppSecret',
      seed: dingtalk({ clientSecret: 'not-the-app-secret' }),
      expect: { id: 'dingtalk.app-token', subject: 'upstream dingtalk', message: /AppKey\/AppSecret/ },
    },
    {
      name: 'DingTalk: a permission not granted',
      before: () => sandbox.setFault({ api: '/topapi/user/getbyunionid', kind: 'errcode', errcode: 60011 }),
      seed: () => {},
      expect: { id: 'dingtalk.permission', subject: 'upstream dingtalk', message: /getbyunionid.*qyapi_get_member/ },
    },
    {
      name: "DingTalk: this host's IP not on the allow-list (60020)",
      seed: dingtalk({ clientId: RESTRICTED_APP.appKey, clientSecret: RESTRICTED_APP.appSecret }),
      expect: { id: 'dingtalk.ip-allowlist', subject: 'upstream dingtalk', message: /127\.0\.0\.1/ },
    },
    {
      name: 'DingTalk: contacts scope narrower than the organisation',
      seed: dingtalk({ clientId: NARROW_APP.appKey, clientSecret: NARROW_APP.appSecret }),
      expect: { id: 'dingtalk.contacts-scope', subject: 'upstream dingtalk', message: /root department/ },
    },
    {
      name: 'Redis evicting any key (allkeys-lru)',
      seed: (c) => {
        c.store = { type: 'redis', url: evicting.url, keyPrefix: 'doctor:' };
      },
      expect: { id: 'store.eviction-policy', subject: 'store', message: /allkeys-lru/ },
    },
    {
      name: 'Redis unreachable',
      seed: (c) => {
        c.store = { type: 'redis', url: `redis://127.0.0.1:${closedPort}`, keyPrefix: 'doctor:' };
      },
      expect: { id: 'store.reachable', subject: 'store' },
    },
  ];

  // The rows run in this process (diagnose is what the command runs after loading the file); the
  // command itself, its exit codes and its output are run as a process in the tests around them.
  for (const row of rows) {
    it(`finds: ${row.name}`, async () => {
      const input = healthy();
      row.seed(input);
      row.before?.();
      let findings;
      try {
        findings = await diagnose(parseConfig(JSON.stringify(input), {}), { timeoutMs: 5000 }, { production: false });
      } finally {
        sandbox.clearFaults();
      }
      const shown = JSON.stringify(findings, null, 2);
      assert.equal(exitCodeOf(findings), 1, shown);
      const found = findings.filter((f) => f.id === row.expect.id && f.severity === 'error');
      assert.equal(found.length, 1, `one ${row.expect.id} error in:\n${shown}`);
      const finding = found[0]!;
      if (row.expect.subject) assert.equal(finding.subject, row.expect.subject);
      if (row.expect.message) assert.match(finding.message, row.expect.message);
      assert.ok(finding.fix && finding.fix.length > 20, 'says how to fix it');
      if (row.expect.fix) assert.match(finding.fix, row.expect.fix);
      // Only the seeded problem is an error: the check is precise, not a cascade.
      assert.deepEqual(
        findings.filter((f) => f.severity === 'error').map((f) => f.id),
        [row.expect.id],
      );
      for (const secret of SECRETS) assert.ok(!shown.includes(secret), 'no secret in a finding');
    });
  }

  it('--kubesphere-users: names neither reserved nor held are errors; reserved, pinned and held ones pass', PROCESS_TIMEOUT, async () => {
    const users = join(dir, 'users.yaml');
    writeFileSync(
      users,
      [
        'apiVersion: v1',
        'kind: List',
        'items:',
        ...['admin', 'zhangwei', 'lina', heldName].flatMap((name) => [
          '- apiVersion: iam.kubesphere.io/v1alpha2',
          '  kind: User',
          `  metadata: { name: ${name} }`,
          `  spec: { email: ${name}@example.test }`,
        ]),
      ].join('\n'),
    );
    const open = await doctor(healthy(), ['--kubesphere-users', users]);
    assert.equal(open.run.code, 1);
    const names = open.report.findings.find((f) => f.id === 'kubesphere.reserved-names');
    assert.equal(names?.severity, 'error');
    assert.match(names.message, /2 of 4 .*: zhangwei, lina$/);
    assert.match(names.fix ?? '', /accounts reserve --from-kubesphere/);

    // A reservation in the store (`accounts reserve`) covers a name as well as the config does.
    const accounts = createAccounts({ store, usernames: usernamesConfig(), log: captureLog() });
    await accounts.reserve(['lina'], 'kubesphere');
    const reservedInStore = await doctor(healthy(), ['--kubesphere-users', users]);
    assert.match(reservedInStore.report.findings.find((f) => f.id === 'kubesphere.reserved-names')?.message ?? '', /1 of 4 .*: zhangwei$/);
    assert.equal(await accounts.unreserve('lina'), true);

    const config = healthy();
    config.usernames = { reserved: ['zhangwei'], pins: { [`dingtalk:${SANDBOX_CORP_ID}:userid:lina01`]: 'lina' } };
    const covered = await doctor(config, ['--kubesphere-users', users]);
    assert.equal(covered.run.code, 0, covered.run.stdout);
    assert.equal(covered.report.findings.find((f) => f.id === 'kubesphere.reserved-names')?.severity, 'ok');
  });

  it('prints a table with the fixes for people, and usage mistakes exit 2', PROCESS_TIMEOUT, async () => {
    const file = join(dir, 'human.yaml');
    const config = healthy();
    config.clients[1] = { ...kubectlClient(), token_endpoint_auth_method: 'client_secret_basic', client_secret: KUBESPHERE_SECRET };
    writeFileSync(file, JSON.stringify(config));
    const result = await run(['--config', file, '--timeout', '3s']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^STATUS\s+CHECK\s+SUBJECT\s+FINDING$/m);
    assert.match(result.stdout, /^ERROR\s+client\.public-pkce\s+client kubectl\s+/m);
    assert.match(result.stdout, /^To fix:\n1\. \[/m);
    assert.match(result.stdout, /token_endpoint_auth_method: none/);
    assert.match(result.stdout, /\n1 error\(s\), \d+ warning\(s\), \d+ ok\n$/);

    const badTimeout = await run(['--config', file, '--timeout', 'soon']);
    assert.equal(badTimeout.code, 2);
    assert.match(badTimeout.stderr, /--timeout/);
    const unknown = await run(['--config', file, '--frobnicate']);
    assert.equal(unknown.code, 2);
  });

  it('reports an invalid config as a finding, in JSON too', PROCESS_TIMEOUT, async () => {
    const { run: result, report } = await doctor({ ...healthy(), issuer: 'https://sso.example.test/' });
    assert.equal(result.code, 1);
    assert.equal(report.findings[0]?.id, 'config.valid');
    assert.match(report.findings[0]?.message ?? '', /issuer/);
  });

  it('checks DingTalk through the egress proxy, names it, and names it again when it refuses', PROCESS_TIMEOUT, async () => {
    const proxy = await startEgressProxy();
    const password = 'doctor-proxy-password-0123456789';
    proxy.requireCredentials('doctor', password);
    try {
      const port = new URL(bridge.sandboxUrl).port;
      // DingTalk's API hosts under names only the proxy resolves: a finding that passes went through it.
      const config = healthy();
      config.upstreams = [
        dingtalkUpstream(bridge.sandboxUrl, {
          endpoints: {
            authorize: `${bridge.sandboxUrl}/oauth2/auth`,
            api: `http://api.dingtalk.test:${port}`,
            oapi: `http://oapi.dingtalk.test:${port}`,
          },
        }),
      ];
      // This machine's own proxy variables, if any, are blanked: the run sees only the ones given here.
      const only = (env: NodeJS.ProcessEnv) => ({
        HTTP_PROXY: '',
        http_proxy: '',
        HTTPS_PROXY: '',
        https_proxy: '',
        NO_PROXY: '',
        no_proxy: '',
        ...env,
      });
      const withProxy = (pw: string) => only({ HTTP_PROXY: proxy.url.replace('http://', `http://doctor:${pw}@`) });

      const { run: passed, report } = await doctor(config, [], withProxy(password));
      assert.equal(passed.code, 0, passed.stdout);
      const egress = report.findings.find((f) => f.id === 'egress.proxy');
      assert.equal(egress?.severity, 'ok');
      assert.match(egress?.message ?? '', /http:\/\/ calls through http:\/\/\*\*\*@127\.0\.0\.1:\d+/);
      assert.ok(report.findings.some((f) => f.id === 'dingtalk.app-token' && f.severity === 'ok'));
      assert.ok(
        proxy.seen.some((r) => r.target.includes('/v1.0/oauth2/accessToken')),
        'the app token came through the proxy',
      );

      const { run: refused, report: refusedReport } = await doctor(config, [], withProxy('wrong-password-0123456789'));
      assert.equal(refused.code, 1);
      const unreachable = refusedReport.findings.find((f) => f.id === 'upstream.reachable' && f.severity === 'error');
      assert.match(unreachable?.message ?? '', /the egress proxy http:\/\/\*\*\*@127\.0\.0\.1:\d+ asked for credentials \(407\)/);
      assert.match(unreachable?.fix ?? '', /HTTPS_PROXY=http:\/\/user:password@host:port/);
      for (const text of [passed.stdout, refused.stdout]) {
        assert.ok(!text.includes(password) && !text.includes('wrong-password-0123456789'), 'no proxy password in the report');
      }

      const { run: bad, report: badReport } = await doctor(config, [], only({ HTTP_PROXY: 'ftp://proxy.corp:21' }));
      assert.equal(bad.code, 1);
      const badEgress = badReport.findings.find((f) => f.id === 'egress.proxy');
      assert.equal(badEgress?.severity, 'error');
      assert.match(badEgress?.message ?? '', /^HTTP_PROXY: ftp:\/\/ proxies are not supported/);
    } finally {
      await proxy.close();
    }
  });
});
