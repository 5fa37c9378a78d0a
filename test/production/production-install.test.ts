// What operators run is what this test runs: the Dockerfile replayed without Docker (npm ci from
// the lockfile, build, `npm prune --omit=dev`, then only the files the final stage copies), started
// with NODE_ENV=production on Redis. `serve` must answer /readyz and discovery, and every CLI
// command must run on the production dependency set alone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { cleanupPrefix, freePort, LOCAL_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { runProcess, type ProcessResult } from '../helpers/run-process.js';
import { replayDockerfile, type ReplayedImage } from './dockerfile-replay.js';
import { startEgressProxy } from '../doubles/egress-proxy.js';

describe('the production install (the Dockerfile, replayed)', () => {
  const prefix = testPrefix('production');
  let image: ReplayedImage;
  let port: number;
  let metricsPort: number;
  let config: string;
  let server: ChildProcess | undefined;
  let serverLog = '';

  const env = () => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...image.env,
    COOKIE_SECRET: 'p'.repeat(40),
  });

  function cli(args: string[]): Promise<ProcessResult> {
    const [command = 'node', ...entry] = image.entrypoint;
    return runProcess(command === 'node' ? process.execPath : command, [...entry, ...args], { cwd: image.dir, env: env() });
  }

  before(
    async () => {
      image = replayDockerfile(process.cwd());
      port = await freePort();
      metricsPort = await freePort();
      config = join(image.dir, 'config.yaml');
      // The DingTalk endpoints point at a closed local port: nothing here may need the internet.
      writeFileSync(
        config,
        `
issuer: http://127.0.0.1:${port}
listen: { host: 127.0.0.1, port: ${port} }
metrics: { listen: { host: 127.0.0.1, port: ${metricsPort} } }
store: { type: redis, url: "${LOCAL_REDIS_URL}", keyPrefix: "${prefix}" }
keys: { dir: ./keys }
cookieSecrets: ["\${COOKIE_SECRET}"]
upstreams:
  - id: dingtalk
    type: dingtalk
    clientId: key
    clientSecret: secret
    corpId: ding1
    endpoints: { authorize: "http://127.0.0.1:9/oauth2/auth", api: "http://127.0.0.1:9", oapi: "http://127.0.0.1:9" }
clients:
  - { client_id: kubesphere, client_secret: shh, redirect_uris: [https://ks.example.com/oauth/redirect/dingtalk] }
`,
      );
    },
    { timeout: 600_000 },
  );

  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    await cleanupPrefix(prefix);
    if (image) {
      rmSync(image.dir, { recursive: true, force: true });
      rmSync(image.buildDir, { recursive: true, force: true });
    }
  });

  it('holds the build and the production dependencies only', () => {
    assert.equal(image.env.NODE_ENV, 'production');
    assert.ok(existsSync(join(image.dir, 'dist/main.js')), 'dist/main.js is in the image');
    assert.ok(existsSync(join(image.dir, 'views/layout.eta')), 'the page templates are in the image');
    assert.ok(!existsSync(join(image.dir, 'src')), 'no TypeScript source in the image');
    for (const devOnly of ['typescript', 'playwright-core', '@types/node']) {
      assert.ok(!existsSync(join(image.dir, 'node_modules', devOnly)), `${devOnly} is not installed`);
    }
  });

  it('refuses to serve without keys in production, naming the command', async () => {
    const run = await cli(['serve', '--config', config]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /oidc-bridge keys generate --config/);
  });

  it('keys generate and keys list', async () => {
    const generated = await cli(['keys', 'generate', '--config', config]);
    assert.equal(generated.code, 0, generated.stderr);
    const listed = await cli(['keys', 'list', '--json', '--config', config]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { alg: string }[];
    assert.deepEqual(rows.map((r) => r.alg).sort(), ['ES256', 'RS256']);
  });

  it('check', async () => {
    const run = await cli(['check', '--config', config]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /config\.yaml: ok/);
  });

  it('serve answers /readyz and discovery on Redis, and drains on SIGTERM', async () => {
    const [command = 'node', ...entry] = image.entrypoint;
    server = spawn(command === 'node' ? process.execPath : command, [...entry, 'serve', '--config', config], {
      cwd: image.dir,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (c: Buffer) => {
      serverLog += c.toString();
    });
    server.stderr!.on('data', (c: Buffer) => {
      serverLog += c.toString();
    });
    // The process logs one line when it listens; wait for it (or for the process to die).
    await new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (serverLog.includes('oidc-bridge listening')) resolve();
      };
      server!.stdout!.on('data', onData);
      server!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${serverLog}`)));
    });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
    const body = (await discovery.json()) as { issuer: string; id_token_signing_alg_values_supported: string[] };
    assert.equal(body.issuer, `http://127.0.0.1:${port}`);
    assert.ok(body.id_token_signing_alg_values_supported.includes('RS256'));
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^oidc_bridge_store_up 1$/m);
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, "not on the issuer's listener");

    server.kill('SIGTERM');
    const [code] = (await once(server, 'exit')) as [number | null];
    assert.equal(code, 0, serverLog);
    assert.doesNotMatch(serverLog, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  });

  it('demo: refused in production, and runs from the production install outside it', async () => {
    const refused = await cli(['demo']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /NODE_ENV=production needs one/);

    const demoPort = await freePort();
    // A temporary directory of its own: the demo generates its signing keys there, and must remove them.
    const demoTmp = mkdtempSync(join(tmpdir(), 'oidc-bridge-demo-tmp-'));
    const [command = 'node', ...entry] = image.entrypoint;
    const demo = spawn(command === 'node' ? process.execPath : command, [...entry, 'demo'], {
      cwd: image.dir,
      env: { ...env(), NODE_ENV: 'development', PORT: String(demoPort), TMPDIR: demoTmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (c: Buffer) => {
        output += c.toString();
        if (output.includes('/demo/')) resolve();
      };
      demo.stdout.on('data', onData);
      demo.stderr.on('data', onData);
      demo.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${output}`)));
    });
    const page = await fetch(`http://localhost:${demoPort}/demo/`);
    assert.equal(page.status, 200);
    assert.equal(readdirSync(demoTmp).filter((f) => f.startsWith('oidc-bridge-demo-keys-')).length, 1, 'its keys while it runs');
    demo.kill('SIGTERM');
    const [code] = (await once(demo, 'exit')) as [number | null];
    assert.equal(code, 0, output);
    assert.deepEqual(readdirSync(demoTmp), [], 'no private keys left behind');
    rmSync(demoTmp, { recursive: true, force: true });
  });

  it('--version and help', async () => {
    const version = await cli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    const help = await cli(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: oidc-bridge/);
  });

  it('doctor --json: runs every check from dist/, exit 1 while the issuer and DingTalk are down', async () => {
    const users = join(image.dir, 'users.yaml');
    writeFileSync(users, 'kind: List\nitems:\n- { apiVersion: iam.kubesphere.io/v1beta1, kind: User, metadata: { name: admin } }\n');
    const run = await cli(['doctor', '--json', '--timeout', '2s', '--kubesphere-users', users, '--config', config]);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as { findings: { id: string; severity: string }[] };
    const severity = (id: string) => report.findings.find((f) => f.id === id)?.severity;
    assert.equal(severity('store.reachable'), 'ok');
    assert.equal(severity('keys.rs256'), 'ok');
    assert.equal(severity('kubesphere.reserved-names'), 'ok');
    assert.equal(severity('issuer.discovery'), 'error');
  });

  it('doctor through an egress proxy: undici is in the production install and carries the calls', async () => {
    const proxy = await startEgressProxy();
    try {
      const proxied = join(image.dir, 'config-proxied.yaml');
      writeFileSync(proxied, readFileSync(config, 'utf8').replaceAll('"http://127.0.0.1:9"', '"http://api.dingtalk.test:9999"'));
      const [command = 'node', ...entry] = image.entrypoint;
      const run = await runProcess(
        command === 'node' ? process.execPath : command,
        [...entry, 'doctor', '--json', '--timeout', '2s', '--config', proxied],
        {
          cwd: image.dir,
          env: { ...env(), HTTP_PROXY: proxy.url },
        },
      );
      const report = JSON.parse(run.stdout) as { findings: { id: string; severity: string; message: string }[] };
      assert.equal(report.findings.find((f) => f.id === 'egress.proxy')?.severity, 'ok', run.stderr);
      assert.ok(
        proxy.seen.some((r) => r.target.startsWith('http://api.dingtalk.test:9999/')),
        `the DingTalk calls went through the proxy: ${JSON.stringify(proxy.seen)} ${run.stderr}`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('accounts list', async () => {
    const run = await cli(['accounts', 'list', '--config', config]);
    assert.equal(run.code, 0, run.stderr);
  });

  it('kubesphere, kubesphere migrate --dry-run, accounts reserve and reserved', async () => {
    const fixtures = join(process.cwd(), 'test/fixtures/kubesphere');
    const secret = await cli(['kubesphere', '--client', 'kubesphere', '--name', 'dingtalk', '--version', '4', '--config', config]);
    assert.equal(secret.code, 0, secret.stderr);
    assert.match(secret.stdout, /type: config\.kubesphere\.io\/identityprovider/);
    const migrate = await cli([
      'kubesphere',
      'migrate',
      '--config',
      config,
      '--users',
      join(fixtures, 'users-4x.yaml'),
      '--name',
      'dingtalk',
      '--map-by',
      'csv',
      '--csv',
      join(fixtures, 'mapping.csv'),
      '--dry-run',
    ]);
    assert.equal(migrate.code, 1, 'sunqi is not in the CSV');
    assert.match(migrate.stdout, /^kubectl annotate user wangfang --overwrite iam\.kubesphere\.io\/identity-provider\.dingtalk=/m);
    const reserve = await cli(['accounts', 'reserve', '--from-kubesphere', join(fixtures, 'users-4x.yaml'), '--config', config]);
    assert.equal(reserve.code, 0, reserve.stderr);
    const reserved = await cli(['accounts', 'reserved', '--config', config]);
    assert.match(reserved.stdout, /^wangfang\s+kubesphere$/m);
  });
});
