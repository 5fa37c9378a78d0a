/**
 * A bridge that reaches DingTalk only through an egress proxy, as an operator runs it: `serve` in
 * its own process with HTTP_PROXY in its environment, DingTalk's API hosts under a name only the
 * proxy resolves (test/doubles/egress-proxy.ts), the proxy asking for credentials. A person signs
 * in through the sandbox and the relying party gets verified tokens; every DingTalk API call went
 * through the proxy, and the proxy's password appears nowhere. The engine's own calls (a client's
 * jwks_uri for private_key_jwt) go through it too. `check` reports the proxy, and a
 * proxy variable the bridge cannot use stops `check` and `serve` with a message, not a stack.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import * as client from 'openid-client';
import { loadConfig } from '../../src/config/load.js';
import { createDingTalkSandbox, sampleUserids, type DingTalkSandbox, type SandboxListener } from '../../src/sandbox/index.js';
import { startEgressProxy, type EgressProxyDouble } from '../doubles/egress-proxy.js';
import { COOKIE_SECRET } from '../helpers/bridge.js';
import { dingtalkDriver, dingtalkUpstream, DINGTALK_SECRETS, kubesphereClient } from '../helpers/dingtalk-login.js';
import { freePort } from '../helpers/redis.js';
import { runProcess } from '../helpers/run-process.js';

const PROXY_PASSWORD = 'egress-proxy-password-0123456789';
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, 'no stack trace');

/** The environment of a child process: this one's without proxy variables, plus `extra`. */
function envWith(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names = ['http_proxy', 'https_proxy', 'no_proxy'];
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !names.includes(name.toLowerCase())));
  return { ...base, OIDC_BRIDGE_CONFIG: '', NODE_ENV: 'test', ...extra };
}

describe('a bridge behind an egress proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-egress-'));
  const configFile = join(dir, 'config.yaml');
  let sandbox: DingTalkSandbox;
  let sandboxListener: SandboxListener;
  let proxy: EgressProxyDouble;
  let issuer: string;
  let proxyEnv: NodeJS.ProcessEnv;
  /** A service client's key set, served where only the proxy reaches (`keys.corp.test`). */
  let keyServer: Server;
  let serviceKey: CryptoKey;
  let jwksPort: number;

  before(async () => {
    sandbox = createDingTalkSandbox();
    sandboxListener = await sandbox.listen();
    proxy = await startEgressProxy();
    proxy.requireCredentials('bridge', PROXY_PASSWORD);
    proxyEnv = { HTTP_PROXY: proxy.url.replace('http://', `http://bridge:${PROXY_PASSWORD}@`) };
    const pair = await generateKeyPair('ES256', { extractable: true });
    serviceKey = pair.privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'svc-1', alg: 'ES256', use: 'sig' }] });
    // The configured jwks_uri redirects (a moved key set): the engine follows it, hop by hop through the proxy.
    keyServer = createServer((req, res) =>
      req.url === '/moved'
        ? res.writeHead(302, { location: '/jwks' }).end()
        : res.writeHead(200, { 'content-type': 'application/json' }).end(jwks),
    );
    keyServer.listen(0, '127.0.0.1');
    await once(keyServer, 'listening');
    jwksPort = (keyServer.address() as AddressInfo).port;
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const sandboxPort = new URL(sandboxListener.url).port;
    // The browser opens DingTalk's login page directly; the bridge's API calls name a host only the proxy knows.
    const upstream = dingtalkUpstream(sandboxListener.url, {
      endpoints: {
        authorize: `${sandboxListener.url}/oauth2/auth`,
        api: `http://api.dingtalk.test:${sandboxPort}`,
        oapi: `http://oapi.dingtalk.test:${sandboxPort}`,
      },
    });
    const config = {
      issuer,
      listen: { host: '127.0.0.1', port },
      metrics: { enabled: false },
      shutdown: { drainDelay: 0 },
      keys: { dir: join(dir, 'keys') },
      cookieSecrets: [COOKIE_SECRET],
      upstreams: [upstream],
      clients: [
        kubesphereClient(),
        {
          client_id: 'svc',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: `http://keys.corp.test:${jwksPort}/moved`,
          grant_types: ['client_credentials'],
        },
      ],
    };
    writeFileSync(configFile, JSON.stringify(config));
    sandbox.addRedirectUri(upstream.clientId, `${issuer}/upstream/dingtalk/callback`);
  });

  after(async () => {
    await proxy?.close();
    await sandboxListener?.close();
    keyServer?.closeAllConnections();
    keyServer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'signs a person in with every DingTalk call through the proxy, fetches a jwks_uri through it, and never shows its password',
    { timeout: 120_000 },
    async () => {
      const child = spawn(process.execPath, ['bin/oidc-bridge.js', 'serve', '--config', configFile], {
        env: envWith(proxyEnv),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const exited = once(child, 'exit');
      try {
        await new Promise<void>((resolve, reject) => {
          const onData = (chunk: Buffer) => {
            output += chunk.toString();
            if (output.includes('"oidc-bridge listening"')) resolve();
          };
          child.stdout.on('data', onData);
          child.stderr.on('data', onData);
          void exited.then(() => reject(new Error(`serve exited: ${output}`)));
        });
        const announced = output.split('\n').find((line) => line.includes('"outgoing calls go through an egress proxy"'));
        assert.ok(announced, 'serve says where its calls go');
        assert.deepEqual((JSON.parse(announced) as { egressProxy: unknown }).egressProxy, {
          http: proxy.url.replace('http://', 'http://***@'),
        });

        proxy.seen.length = 0;
        const config = await loadConfig(configFile, process.env);
        const driver = dingtalkDriver({ issuer, config }, { sandbox, sandboxUrl: sandboxListener.url });
        const login = await driver.loginAs(sampleUserids.manager, 'kubesphere');
        assert.ok(login.code, `the login reached the relying party: ${login.page?.html.slice(0, 300) ?? ''}`);
        const tokens = await driver.tokens(login);
        assert.equal(typeof tokens.claims()?.sub, 'string');

        const paths = proxy.seen.map((r) => `${r.method} ${new URL(r.target).host} ${new URL(r.target).pathname}`);
        const port = new URL(sandboxListener.url).port;
        for (const call of [
          `POST api.dingtalk.test:${port} /v1.0/oauth2/userAccessToken`,
          `GET api.dingtalk.test:${port} /v1.0/contact/users/me`,
          `POST oapi.dingtalk.test:${port} /topapi/user/getbyunionid`,
        ]) {
          assert.ok(paths.includes(call), `${call} went through the proxy (it saw: ${paths.join(', ')})`);
        }
        // The engine fetches the service client's keys through the proxy to check its client assertion.
        const service = await client.discovery(new URL(issuer), 'svc', undefined, client.PrivateKeyJwt({ key: serviceKey, kid: 'svc-1' }), {
          execute: [client.allowInsecureRequests],
        });
        const granted = await client.clientCredentialsGrant(service);
        assert.equal(typeof granted.access_token, 'string');
        for (const path of ['/moved', '/jwks']) {
          assert.ok(
            proxy.seen.some((r) => r.method === 'GET' && r.target === `http://keys.corp.test:${jwksPort}${path}`),
            `the jwks_uri's ${path} was fetched through the proxy`,
          );
        }

        const basic = `Basic ${Buffer.from(`bridge:${PROXY_PASSWORD}`).toString('base64')}`;
        assert.ok(
          proxy.seen.every((r) => r.authorization === basic),
          'each call carried the credentials of HTTP_PROXY',
        );
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
      noStack(output);
      for (const secret of [PROXY_PASSWORD, ...DINGTALK_SECRETS]) assert.ok(!output.includes(secret), 'no secret in the log');
    },
  );

  it(
    '`check` names the proxy; a proxy variable it cannot use stops `check` and `serve` with the variable named',
    { timeout: 120_000 },
    async () => {
      const checked = await runProcess(process.execPath, ['bin/oidc-bridge.js', 'check', '--config', configFile], {
        env: envWith({ ...proxyEnv, NO_PROXY: '.svc,10.0.0.0/8' }),
      });
      assert.equal(checked.code, 0, checked.stderr);
      assert.match(
        checked.stdout,
        /^egress proxy: https:\/\/ calls direct; http:\/\/ calls through http:\/\/\*\*\*@127\.0\.0\.1:\d+; except NO_PROXY \(\.svc,10\.0\.0\.0\/8\)$/m,
      );
      assert.ok(!checked.stdout.includes(PROXY_PASSWORD));

      const bad = { HTTPS_PROXY: `socks5://bridge:${PROXY_PASSWORD}@proxy.corp:1080` };
      for (const command of ['check', 'serve']) {
        const run = await runProcess(process.execPath, ['bin/oidc-bridge.js', command, '--config', configFile], { env: envWith(bad) });
        assert.equal(run.code, 1, `${command}: ${run.stdout}${run.stderr}`);
        assert.match(run.stderr, /HTTPS_PROXY: socks5:\/\/ proxies are not supported; use an http:\/\/ or https:\/\/ proxy/);
        assert.doesNotMatch(run.stdout, /listening/);
        assert.ok(!`${run.stdout}${run.stderr}`.includes(PROXY_PASSWORD));
        noStack(run.stderr);
      }
    },
  );
});
