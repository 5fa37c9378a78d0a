// The oidc-bridge command line as an operator runs it: a separate process, exit codes, messages
// on stdout/stderr, never a stack trace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccounts } from '../../src/accounts/index.js';
import { hashSecret } from '../../src/config/hashed-secret.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { dingtalkIdentity, usernamesConfig, captureLog } from '../accounts/fixtures.js';
import { cleanupPrefix, LOCAL_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { runProcess, type ProcessResult } from '../helpers/run-process.js';
import { listen } from '../../src/server/listen.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, ['bin/oidc-bridge.js', ...args], {
    env: { ...process.env, OIDC_BRIDGE_CONFIG: '', NODE_ENV: 'test', ...env },
  });
}

interface Served {
  /** The "oidc-bridge listening" line's fields. */
  line: Record<string, unknown>;
  output: () => string;
  /** Resolves at the first log line (already printed or to come) whose `msg` starts with `msg`. */
  logged: (msg: string) => Promise<Record<string, unknown>>;
  kill: (signal: NodeJS.Signals) => void;
  /** The exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

/** `serve` until its "oidc-bridge listening" line (or its exit). */
async function startServe(args: string[], env: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, ['bin/oidc-bridge.js', 'serve', ...args], {
    env: { ...process.env, OIDC_BRIDGE_CONFIG: '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const lines = () =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const onData = (c: Buffer) => {
    output += c.toString();
    for (const waiter of [...waiters]) {
      const found = lines().find((l) => String(l.msg).startsWith(waiter.msg));
      if (!found) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(found);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const logged = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = lines().find((l) => String(l.msg).startsWith(msg));
      if (found) return resolve(found);
      waiters.push({ msg, resolve });
      void exited.then((code) => reject(new Error(`serve exited with ${code} before logging "${msg}": ${output}`)));
    });
  const line = await logged('oidc-bridge listening');
  return {
    line,
    output: () => output,
    logged,
    kill: (signal) => child.kill(signal),
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** One GET on a keep-alive connection of its own: the status and the Connection header of the answer. */
async function get(url: string): Promise<{ status: number; connection: string | undefined }> {
  const agent = new Agent({ keepAlive: true });
  try {
    return await new Promise((resolve, reject) => {
      request(url, { agent }, (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
        .once('error', reject)
        .end();
    });
  } finally {
    agent.destroy();
  }
}

const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, 'no stack trace');

describe('oidc-bridge CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const prefix = testPrefix('cli');
  let store: Store;
  const configText = (extra = '') => `
issuer: https://sso.example.com
store: { type: redis, url: "${LOCAL_REDIS_URL}", keyPrefix: "${prefix}" }
keys: { dir: "${join(dir, 'keys')}" }
cookieSecrets: ["\${COOKIE_SECRET}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: key, clientSecret: secret, corpId: ding1 ${extra} }
clients:
  - { client_id: kubesphere, client_secret: shh, redirect_uris: [https://ks.example.com/oauth/redirect/dingtalk] }
`;
  const good = join(dir, 'good.yaml');
  const env = { COOKIE_SECRET: 'c'.repeat(40) };

  before(() => {
    writeFileSync(good, configText());
    store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
  });
  after(async () => {
    await store.close();
    await cleanupPrefix(prefix);
  });

  it('check: ok with a summary for a valid file', async () => {
    const { code, stdout } = await run(['check', '--config', good], env);
    assert.equal(code, 0);
    assert.match(stdout, /good\.yaml: ok \(issuer https:\/\/sso\.example\.com; 1 upstream\(s\): dingtalk \[dingtalk\]; 1 client\(s\)\)/);
  });

  it('check: every problem with its path, exit 1, no stack', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      configText().replace('corpId: ding1', 'corpid: ding1').replace('client_secret: shh', 'client_secret: shh, skipconsent: true'),
    );
    const { code, stderr } = await run(['check', '--config', bad], env);
    assert.equal(code, 1);
    assert.match(stderr, /upstreams\[0\] \(upstream "dingtalk"\): unknown key "corpid"/);
    assert.match(stderr, /clients\[0\] \(client "kubesphere"\): unknown key "skipconsent"/);
    noStack(stderr);
  });

  it('check: names an unset environment variable', async () => {
    const { code, stderr } = await run(['check', '--config', good]);
    assert.equal(code, 1);
    assert.match(stderr, /cookieSecrets\[0\]: environment variable COOKIE_SECRET is not set/);
  });

  it('check: warns loudly about allowAnyDingTalkUser', async () => {
    const open = join(dir, 'open.yaml');
    writeFileSync(open, configText(', allowAnyDingTalkUser: true'));
    const { code, stderr } = await run(['check', '--config', open], env);
    assert.equal(code, 0);
    assert.match(stderr, /warning: .*ANYONE with a DingTalk account can log in/);
  });

  it('check: a missing file is one clear line', async () => {
    const { code, stderr } = await run(['check', '--config', join(dir, 'absent.yaml')]);
    assert.equal(code, 1);
    assert.match(stderr, /absent\.yaml: 1 problem\n {2}- cannot read the file: ENOENT/);
    noStack(stderr);
  });

  it('keys generate, then list, in the configured directory', async () => {
    const generated = await run(['keys', 'generate', '--config', good], env);
    assert.equal(generated.code, 0, generated.stderr);
    assert.equal(readdirSync(join(dir, 'keys')).filter((f) => f.endsWith('.key.json')).length, 2);
    const listed = await run(['keys', 'list', '--json', '--config', good], env);
    const rows = JSON.parse(listed.stdout) as { alg: string; state: string }[];
    assert.deepEqual(rows.map((r) => `${r.alg}:${r.state}`).sort(), ['ES256:active', 'RS256:active']);
    const again = await run(['keys', 'generate', '--config', good], env);
    assert.equal(again.code, 1);
    noStack(again.stderr);
  });

  it('keys --dir: makes and rotates keys in a directory without reading a config (none of its secrets needed)', async () => {
    const scratch = join(dir, 'scratch-keys');
    // A config that cannot load is named by OIDC_BRIDGE_CONFIG: --dir alone must not read it.
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'issuer: ${UNSET_ISSUER}\n');
    const generated = await run(['keys', 'generate', '--dir', scratch], { ...env, OIDC_BRIDGE_CONFIG: broken, NODE_ENV: 'production' });
    assert.equal(generated.code, 0, generated.stderr);
    assert.equal(readdirSync(scratch).filter((f) => f.endsWith('.key.json')).length, 2);
    const rotated = await run(['keys', 'rotate', '--dir', scratch], { ...env, OIDC_BRIDGE_CONFIG: broken });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /\(in 1 h\)/, 'the default keys.rotationLead');
    const listed = await run(['keys', 'list', '--json', '--dir', scratch], env);
    const rows = JSON.parse(listed.stdout) as { alg: string; state: string }[];
    assert.deepEqual(rows.map((r) => `${r.alg}:${r.state}`).sort(), ['ES256:active', 'ES256:pending', 'RS256:active', 'RS256:pending']);
    // With --config too, the config is read (its keys.rotationLead), and --dir still names the directory.
    const both = await run(['keys', 'list', '--json', '--dir', scratch, '--config', good], env);
    assert.equal(both.code, 0, both.stderr);
    assert.equal((JSON.parse(both.stdout) as unknown[]).length, 4);
  });

  it('serve refuses to start in production without keys, naming the command', async () => {
    const empty = join(dir, 'nokeys.yaml');
    writeFileSync(empty, configText().replace(join(dir, 'keys'), join(dir, 'empty-keys')));
    const { code, stderr } = await run(['serve', '--config', empty], { ...env, NODE_ENV: 'production' });
    assert.equal(code, 1);
    assert.match(stderr, /oidc-bridge keys generate/);
    noStack(stderr);
  });

  /** A config `serve` can run outside production: memory store, both listeners on free ports. */
  const serveConfig = (name: string, metrics = '{ listen: { host: 127.0.0.1, port: 0 } }', drainDelay = '0') => {
    const path = join(dir, name);
    writeFileSync(
      path,
      configText()
        .replace(/^store: .*$/m, 'store: { type: memory }')
        .replace(join(dir, 'keys'), join(dir, `${name}-keys`))
        .concat(`listen: { host: 127.0.0.1, port: 0 }\nmetrics: ${metrics}\nshutdown: { drainDelay: ${drainDelay} }\n`),
    );
    return path;
  };

  it("serve: /metrics on its own listener, not on the issuer's", async () => {
    const served = await startServe(['--config', serveConfig('metrics.yaml')], env);
    try {
      const { listen: issuerUrl, metrics } = served.line as { listen: string; metrics: string };
      assert.match(metrics, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.notEqual(new URL(metrics).port, new URL(issuerUrl).port);
      const scraped = await fetch(metrics);
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /^oidc_bridge_build_info\{version="[^"]+"\} 1$/m);
      const onIssuer = await fetch(`${issuerUrl}/metrics`, { headers: { accept: 'text/plain' } });
      assert.equal(onIssuer.status, 404);
      assert.doesNotMatch(await onIssuer.text(), /oidc_bridge_/);
    } finally {
      assert.equal(await served.stop(), 0, served.output());
    }
  });

  // Kubernetes takes a terminating pod out of the Service while it signals, and connections keep
  // arriving for seconds after (`shutdown.drainDelay`, src/config/schema.ts): they must be answered.
  it('serve: after SIGTERM, answers for shutdown.drainDelay (/readyz 503), then exits 0', async () => {
    // 2 s: the two requests below must get in before the listener closes, even on a busy machine.
    const served = await startServe(['--config', serveConfig('drain.yaml', undefined, '2s')], env);
    const issuerUrl = served.line.listen as string;
    assert.deepEqual(await get(`${issuerUrl}/readyz`), { status: 200, connection: 'keep-alive' });
    const signalled = Date.now();
    served.kill('SIGTERM');
    const draining = await served.logged('shutting down');
    assert.deepEqual(await get(`${issuerUrl}/readyz`), { status: 503, connection: 'close' }, 'readiness fails, no refused connection');
    assert.deepEqual(
      await get(`${issuerUrl}/.well-known/openid-configuration`),
      { status: 200, connection: 'close' },
      'other routes answer as usual, and keep-alive clients are told to reconnect elsewhere',
    );
    assert.equal(draining.drainDelay, 2);
    assert.equal(await served.exited, 0, served.output());
    assert.ok(Date.now() - signalled >= 1900, `exited ${Date.now() - signalled} ms after SIGTERM, before the drain delay`);
    const messages = served
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => String((JSON.parse(l) as { msg: string }).msg));
    assert.deepEqual(messages.slice(messages.findIndex((m) => m.startsWith('shutting down'))), [
      'shutting down: draining connections',
      'closing the listener: finishing requests in flight',
      'stopped',
    ]);
    noStack(served.output());
  });

  it('serve: with shutdown.drainDelay 0, exits at once on SIGTERM', async () => {
    const served = await startServe(['--config', serveConfig('no-drain.yaml', undefined, '0')], env);
    const signalled = Date.now();
    assert.equal(await served.stop(), 0, served.output());
    // Far below the 5 s default: nothing waited.
    assert.ok(Date.now() - signalled < 3000, `exited ${Date.now() - signalled} ms after SIGTERM`);
    assert.equal((await served.logged('shutting down')).drainDelay, 0);
  });

  it('serve: a second signal during the drain delay stops without waiting it out (Ctrl-C twice)', { timeout: 20_000 }, async () => {
    const served = await startServe(['--config', serveConfig('hurry.yaml', undefined, '10m')], env);
    served.kill('SIGINT');
    await served.logged('shutting down');
    served.kill('SIGINT');
    assert.equal(await served.exited, 0, served.output());
    assert.equal((await served.logged('second signal')).signal, 'SIGINT');
    await served.logged('stopped');
  });

  it('serve: a busy metrics port is a start-up error naming the keys to change', async () => {
    const busy = await listen(undefined, { host: '127.0.0.1', port: 0 });
    try {
      const config = serveConfig('busy.yaml', `{ listen: { host: 127.0.0.1, port: ${new URL(busy.url).port} } }`);
      const { code, stderr } = await run(['serve', '--config', config], env);
      assert.equal(code, 1);
      assert.match(stderr, /metrics listener 127\.0\.0\.1:\d+: .*EADDRINUSE.*metrics\.listen\.port.*metrics\.enabled: false/);
      noStack(stderr);
    } finally {
      await busy.close({ graceMs: 0 });
    }
  });

  it('serve: a busy issuer port is a start-up error naming the keys to change', async () => {
    const busy = await listen(undefined, { host: '127.0.0.1', port: 0 });
    try {
      const config = serveConfig('busy-issuer.yaml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace(
          'listen: { host: 127.0.0.1, port: 0 }',
          `listen: { host: 127.0.0.1, port: ${new URL(busy.url).port} }`,
        ),
      );
      const { code, stderr } = await run(['serve', '--config', config], env);
      assert.equal(code, 1);
      assert.match(stderr, /listen 127\.0\.0\.1:\d+: .*EADDRINUSE.*set listen\.host and listen\.port/);
      noStack(stderr);
    } finally {
      await busy.close({ graceMs: 0 });
    }
  });

  it('check: a listen host with a port in it is a config error with its path, not a failure at start-up', async () => {
    const config = serveConfig('host-port.yaml');
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace('listen: { host: 127.0.0.1, port: 0 }', 'listen: { host: "0.0.0.0:8080", port: 0 }'),
    );
    const { code, stderr } = await run(['check', '--config', config], env);
    assert.equal(code, 1);
    assert.match(stderr, /listen\.host: expected an address such as 0\.0\.0\.0/);
    noStack(stderr);
  });

  it('check and serve refuse store.type memory in production alike, naming the fix', async () => {
    const config = serveConfig('prod-memory.yaml');
    const refusals: string[] = [];
    for (const command of ['check', 'serve']) {
      const { code, stdout, stderr } = await run([command, '--config', config], { ...env, NODE_ENV: 'production' });
      assert.equal(code, 1, `${command}: ${stdout}${stderr}`);
      assert.match(stderr, /^error: store\.type: memory .*NODE_ENV=production/m);
      assert.match(stderr, /set store\.type: redis/);
      assert.doesNotMatch(stdout, /: ok/);
      assert.doesNotMatch(stdout + stderr, /oidc-bridge listening/);
      noStack(stderr);
      refusals.push(stderr);
    }
    assert.equal(refusals[0], refusals[1], 'the same message from both');
  });

  it('check: a numeric ${VAR} stays a string where the config wants one, and is a number where it wants one', async () => {
    const numeric = join(dir, 'numeric.yaml');
    // As config.example.yaml writes it: unquoted, in block style (braces would need quotes).
    writeFileSync(
      numeric,
      configText().replace(
        /^ {2}- \{ client_id: kubesphere, client_secret: shh, (redirect_uris: .*) \}$/m,
        '  - client_id: "${CLIENT_ID}"\n    client_secret: ${KUBESPHERE_CLIENT_SECRET}\n    $1',
      ) + 'listen:\n  port: ${PORT}\n',
    );
    const numbers = { ...env, CLIENT_ID: '1001', KUBESPHERE_CLIENT_SECRET: '12345678' };
    const { code, stdout, stderr } = await run(['check', '--config', numeric], { ...numbers, PORT: '9090' });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /numeric\.yaml: ok .*1 client\(s\)/);
    const badPort = await run(['check', '--config', numeric], { ...numbers, PORT: '70000' });
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /listen\.port: Too big: expected number to be <=65535/);
    assert.doesNotMatch(badPort.stderr, /client_(id|secret)/);
  });

  it('every command answers --help and -h with its usage on stdout, reading no config and starting nothing', async () => {
    // A ./config.yaml that cannot load (COOKIE_SECRET is unset), and NODE_ENV=production, under
    // which the demo refuses to start: a command that read the config or started anything fails.
    const cwd = mkdtempSync(join(tmpdir(), 'cli-help-'));
    writeFileSync(join(cwd, 'config.yaml'), configText());
    const cases: [string[], RegExp][] = [
      [['serve'], /^Usage: oidc-bridge serve /],
      [['--config', 'config.yaml'], /^Usage: oidc-bridge serve /],
      [['demo'], /^Usage: oidc-bridge demo\n/],
      [['check'], /^Usage: oidc-bridge check /],
      [['keys'], /^Usage: oidc-bridge keys /],
      [['keys', 'rotate'], /^Usage: oidc-bridge keys /],
      [['accounts'], /^Usage: oidc-bridge accounts /],
      [['accounts', 'revoke', 'someone'], /^Usage: oidc-bridge accounts /],
      [['kubesphere'], /^Usage: oidc-bridge kubesphere --config/],
      [['kubesphere', 'migrate'], /^Usage: oidc-bridge kubesphere migrate /],
      [['clients'], /^Usage: oidc-bridge clients hash-secret\n/],
      [['clients', 'hash-secret'], /^Usage: oidc-bridge clients hash-secret\n/],
      [['doctor'], /^Usage: oidc-bridge doctor /],
    ];
    const runs = cases.flatMap(([args, usage]) =>
      ['--help', '-h'].map(async (flag) => {
        const shown = `${[...args, flag].join(' ')}`;
        const result = await runProcess(process.execPath, [join(process.cwd(), 'bin/oidc-bridge.js'), ...args, flag], {
          cwd,
          env: { ...process.env, OIDC_BRIDGE_CONFIG: '', NODE_ENV: 'production', COOKIE_SECRET: '' },
        });
        assert.equal(result.code, 0, `${shown}: ${result.stderr}`);
        assert.match(result.stdout, usage, shown);
        assert.equal(result.stderr, '', shown);
      }),
    );
    await Promise.all(runs);
  });

  it('accounts list, show and revoke work on the configured store', async () => {
    const log = captureLog();
    const accounts = createAccounts({ store, usernames: usernamesConfig(), log });
    const account = await accounts.link(dingtalkIdentity('cli-person', { name: '张伟', hints: [] }));
    const listed = await run(['accounts', 'list', '--json', '--config', good], env);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { username: string; sub: string }[];
    assert.ok(
      rows.some((r) => r.sub === account.sub && r.username === account.username),
      listed.stdout,
    );
    const shown = await run(['accounts', 'show', account.username, '--config', good], env);
    assert.equal(shown.code, 0);
    assert.doesNotMatch(shown.stdout, /connectorData/);
    const revoked = await run(['accounts', 'revoke', account.username, '--config', good], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout + revoked.stderr, /account\.revoke/);
    const unknown = await run(['accounts', 'show', 'nobody-here', '--config', good], env);
    assert.equal(unknown.code, 1);
    noStack(unknown.stderr);
  });

  it('clients hash-secret prints a new secret and the sha256: value that authenticates it', async () => {
    const { code, stdout } = await run(['clients', 'hash-secret']);
    assert.equal(code, 0);
    const secret = /secret \(.*\): ([A-Za-z0-9_-]{43})\n/.exec(stdout)?.[1];
    const hashed = /client_secret: "(sha256:[A-Za-z0-9_-]{43})"/.exec(stdout)?.[1];
    assert.ok(secret && hashed, stdout);
    assert.equal(hashed, hashSecret(secret));
  });

  it('an unknown command prints the usage and exits 2', async () => {
    const { code, stderr } = await run(['frobnicate']);
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "frobnicate"/);
    assert.match(stderr, /Usage: oidc-bridge <command>/);
  });
});
