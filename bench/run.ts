/**
 * `npm run bench`: the bridge against its bare engine, in one run (bench/README.md).
 *
 *   (a) oidc-bridge, memory store   (b) oidc-bridge, Redis (own key prefix, removed after)
 *   (c) oidc-provider alone: same signing keys, features and client, its memory adapter, a trivial interaction
 *
 * The three servers run side by side (each its own process, the upstreams in a fourth); every row
 * loads one server at a time with autocannon, a → b → c, so the ratios come from one run on one
 * machine. Options: --quick (a smoke check of a few seconds), --from src|dist (default dist: run
 * `npm run build` first; `npm run bench` does), --out <dir> (default bench/results).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { configSchema } from '../src/config/schema.js';
import { generateKeys, loadKeys } from '../src/oidc/keys.js';
import { sampleUserids } from '../src/sandbox/index.js';
import { dingtalkDriver, type DingTalkDriver } from '../test/helpers/dingtalk-login.js';
import { Browser } from '../test/helpers/http-browser.js';
import { cleanupPrefix, freePort, LOCAL_REDIS_URL, testPrefix } from '../test/helpers/redis.js';
import { renderMarkdown, renderTable, type Report, type Row } from './report.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const from = (args[args.indexOf('--from') + 1] ?? '') === 'src' || (quick && !args.includes('--from')) ? 'src' : 'dist';
const outDir = args.includes('--out') ? resolve(args[args.indexOf('--out') + 1]!) : join(ROOT, 'bench', 'results');

const S = quick
  ? { duration: 1, connections: 4, codes: 40, prepareSeconds: 10, chains: 4, loginSeconds: 1, loginConcurrency: 4, sizes: [1000] }
  : {
      duration: 8,
      connections: 16,
      codes: 1500,
      prepareSeconds: 30,
      chains: 16,
      loginSeconds: 10,
      loginConcurrency: 16,
      sizes: [1000, 10_000, 100_000],
    };

const CLIENT = { client_id: 'bench', client_secret: 'bench-client-secret-0123456789abcdef', redirect: 'https://rp.bench.test/cb' };
const BASIC = `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}`;
const SCOPE = 'openid profile email groups';
const FORM = 'application/x-www-form-urlencoded';

type TargetId = 'a' | 'b' | 'c';
interface Target {
  id: TargetId;
  label: string;
  issuer: string;
  child: ChildProcess;
  /** One federated login (or the bare engine's trivial one) up to the code, timing each step. */
  login(userid: string, upstream: 'dingtalk' | 'corp', steps?: Record<string, number[]>): Promise<string>;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const children: ChildProcess[] = [];

/** A child process that prints one JSON line when ready. */
function start(command: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, command, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolveReady, reject) => {
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code} before it was ready`)));
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolveReady({ child, ready: JSON.parse(line) as Record<string, unknown> }));
  });
}

/** Polls until the URL answers 200 (the bridges log at warn, so there is no "listening" line to wait for). */
async function answering(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

function rssOf(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed<T>(steps: Record<string, number[]> | undefined, name: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await run();
  (steps?.[name] ?? (steps ? (steps[name] = []) : [])).push(performance.now() - t0);
  return value;
}

async function redeem(issuer: string, code: string): Promise<{ access_token: string; refresh_token: string; id_token: string }> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirect }).toString(),
  });
  const body = (await res.json()) as { access_token: string; refresh_token: string; id_token: string };
  if (!res.ok || !body.id_token) throw new Error(`code redemption answered ${res.status}`);
  return body;
}

/** Runs `fn` with `concurrency` workers until `count` are done. */
async function pool<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function cannon(options: autocannon.Options): Promise<Measured> {
  const result = await autocannon({ connections: S.connections, duration: S.duration, ...options });
  return {
    rps: options.amount ? result.requests.total / (result.duration || 1) : result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

// ---- servers ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'oidc-bridge-bench-'));
  const redisPrefix = testPrefix('bench');
  process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const keysDir = join(tmp, 'keys');
  await generateKeys(keysDir);
  const keys = await loadKeys({ dir: keysDir, production: false, maxTokenLifetimeSeconds: 3600, log: pino({ level: 'silent' }) });
  const jwksFile = join(tmp, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(keys.jwks), { mode: 0o600 });

  const ports = { a: await freePort(), b: await freePort(), c: await freePort(), startup: await freePort() };
  const issuerOf = (port: number) => `http://127.0.0.1:${port}`;
  const callbacks = (id: string) => [ports.a, ports.b, ports.startup].map((p) => `${issuerOf(p)}/upstream/${id}/callback`);
  const upstreams = await start([
    '--import',
    'tsx',
    'bench/servers/upstreams.ts',
    JSON.stringify({ callbacks: { dingtalk: callbacks('dingtalk'), corp: callbacks('corp') } }),
  ]);
  const { sandboxUrl, oidc } = upstreams.ready as { sandboxUrl: string; oidc: { issuer: string; clientId: string; clientSecret: string } };

  const configOf = (port: number, store: 'memory' | 'redis', dingtalkOnly = false) => ({
    issuer: issuerOf(port),
    listen: { host: '127.0.0.1', port },
    store: store === 'memory' ? { type: 'memory' } : { type: 'redis', url: LOCAL_REDIS_URL, keyPrefix: redisPrefix },
    keys: { dir: keysDir },
    cookieSecrets: ['bench-cookie-secret-0123456789abcdef'],
    logging: { level: 'warn' },
    metrics: { enabled: false },
    // Every request is still counted, as in production (one store call per limited request), but
    // the load generator's single address never reaches a budget.
    rateLimits: Object.fromEntries(
      ['token', 'introspection', 'revocation', 'deviceAuthorization', 'authorization', 'deviceVerification', 'upstreamCallback'].map(
        (rule) => [rule, { points: 100_000_000, duration: '1m' }],
      ),
    ),
    upstreams: [
      {
        id: 'dingtalk',
        type: 'dingtalk',
        clientId: 'dingsandboxappkey',
        clientSecret: 'sandbox-secret',
        corpId: 'dingsandbox0001',
        endpoints: { authorize: `${sandboxUrl}/oauth2/auth`, api: sandboxUrl, oapi: sandboxUrl },
      },
      ...(dingtalkOnly
        ? []
        : [
            {
              id: 'corp',
              type: 'oidc',
              issuer: oidc.issuer,
              clientId: oidc.clientId,
              clientSecret: oidc.clientSecret,
              linkDomain: 'bench',
            },
          ]),
    ],
    clients: [
      {
        client_id: CLIENT.client_id,
        client_secret: CLIENT.client_secret,
        redirect_uris: [CLIENT.redirect],
        grant_types: ['authorization_code', 'refresh_token'],
        skipConsent: true,
        upstreams: dingtalkOnly ? ['dingtalk'] : ['dingtalk', 'corp'],
      },
    ],
  });
  const bridgeCommand = (file: string) =>
    from === 'dist' ? ['dist/main.js', 'serve', '--config', file] : ['--import', 'tsx', 'src/main.ts', 'serve', '--config', file];

  const startBridge = async (id: 'a' | 'b', store: 'memory' | 'redis'): Promise<Target> => {
    const input = configOf(ports[id], store);
    const file = join(tmp, `${id}.yaml`);
    writeFileSync(file, JSON.stringify(input, null, 2)); // JSON is YAML
    const child = spawn(process.execPath, bridgeCommand(file), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    await answering(`${input.issuer}/readyz`, child);
    const config = configSchema.parse(input);
    // The sandbox object is used only for `issuedCode` logins, which the bench does not make.
    const driver: DingTalkDriver = dingtalkDriver({ issuer: input.issuer, config }, { sandbox: undefined as never, sandboxUrl });
    return {
      id,
      label: `oidc-bridge (${store})`,
      issuer: input.issuer,
      child,
      async login(userid, upstream, steps) {
        if (upstream === 'corp') {
          const browser = new Browser();
          const url = new URL(`${input.issuer}/auth`);
          url.search = new URLSearchParams({
            client_id: CLIENT.client_id,
            response_type: 'code',
            scope: SCOPE,
            redirect_uri: CLIENT.redirect,
            state: 'bench',
            upstream: 'corp',
          }).toString();
          const { url: done } = await browser.follow(url, (u) => u.href.startsWith(CLIENT.redirect));
          return done.searchParams.get('code') ?? fail(`corp login ended at ${done.pathname}`);
        }
        const pending = await timed(steps, '1 authorize → upstream', () =>
          driver.startLogin(CLIENT.client_id, { scope: SCOPE, extra: { upstream: 'dingtalk' }, nonce: false }),
        );
        const callback = await timed(steps, '2 sandbox login', () => driver.chooseAtSandbox(pending, userid));
        const result = await timed(steps, '3 callback → code', () => driver.finishLogin(pending, callback));
        return result.code ?? fail(`login ended on a page: ${result.page?.status}`);
      },
    };
  };

  const startBare = async (): Promise<Target> => {
    const client = {
      client_id: CLIENT.client_id,
      client_secret: CLIENT.client_secret,
      redirect_uris: [CLIENT.redirect],
      grant_types: ['authorization_code', 'refresh_token'],
    };
    const { child, ready } = await start([
      '--import',
      'tsx',
      'bench/servers/bare-provider.ts',
      JSON.stringify({ port: ports.c, jwksFile, client }),
    ]);
    const issuer = ready.url as string;
    return {
      id: 'c',
      label: 'oidc-provider alone',
      issuer,
      child,
      async login(_userid, _upstream, steps) {
        const browser = new Browser();
        const url = new URL(`${issuer}/auth`);
        url.search = new URLSearchParams({
          client_id: CLIENT.client_id,
          response_type: 'code',
          scope: SCOPE,
          redirect_uri: CLIENT.redirect,
          state: 'bench',
        }).toString();
        const { url: done } = await timed(steps, '1 authorize → code (trivial interaction)', () =>
          browser.follow(url, (u) => u.href.startsWith(CLIENT.redirect)),
        );
        return done.searchParams.get('code') ?? fail(`bare login ended at ${done.pathname}`);
      },
    };
  };

  log(`bench: ${quick ? 'quick' : 'full'} run, bridges from ${from}`);
  const targets = [await startBridge('a', 'memory'), await startBridge('b', 'redis'), await startBare()];
  const startupRss = Object.fromEntries(targets.map((t) => [t.id, rssOf(t.child.pid)]));
  const rows: Row[] = [];
  const record = (name: string, id: TargetId, m: Measured) => {
    let row = rows.find((r) => r.name === name);
    if (!row) rows.push((row = { name, results: {} }));
    row.results[id] = m;
    log(`  ${name} [${id}] ${m.rps.toFixed(0)}/s p99 ${m.p99} ms${m.errors ? ` (${m.errors} errors)` : ''}`);
  };

  try {
    // Tokens for userinfo, introspection and the refresh chains: one login per connection.
    const user = sampleUserids.manager;
    const prepared = new Map<TargetId, { access: string[]; refresh: string[]; recheckRefresh: string[] }>();
    for (const t of targets) {
      const upstream = t.id === 'c' ? 'dingtalk' : 'corp';
      const plain = await pool(S.chains, 4, async () => redeem(t.issuer, await t.login(user, upstream)));
      const recheck = t.id === 'c' ? [] : await pool(S.chains, 4, async () => redeem(t.issuer, await t.login(user, 'dingtalk')));
      prepared.set(t.id, {
        access: [...plain, ...recheck].map((x) => x.access_token),
        refresh: plain.map((x) => x.refresh_token),
        recheckRefresh: recheck.map((x) => x.refresh_token),
      });
    }

    for (const t of targets) record('discovery', t.id, await cannon({ url: `${t.issuer}/.well-known/openid-configuration` }));
    for (const t of targets) record('JWKS', t.id, await cannon({ url: `${t.issuer}/jwks` }));

    for (const t of targets) {
      // Codes live 60 s: prepared right before this server's run.
      // At most S.codes, and only as many as `S.prepareSeconds` allow, well inside that lifetime.
      const codes: string[] = [];
      const prepareUntil = performance.now() + S.prepareSeconds * 1000;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (codes.length < S.codes && performance.now() < prepareUntil)
            codes.push(await t.login(user, t.id === 'c' ? 'dingtalk' : 'corp'));
        }),
      );
      let next = 0;
      record(
        'token (authorization_code)',
        t.id,
        await cannon({
          url: `${t.issuer}/token`,
          amount: codes.length,
          requests: [
            {
              method: 'POST',
              headers: { authorization: BASIC, 'content-type': FORM },
              setupRequest: (req) => ({
                ...req,
                body: new URLSearchParams({
                  grant_type: 'authorization_code',
                  code: codes[next++ % codes.length]!,
                  redirect_uri: CLIENT.redirect,
                }).toString(),
              }),
            },
          ],
        }),
      );
    }

    const refreshRow = async (name: string, t: Target, tokens: string[]) => {
      // Each redemption rotates the refresh token: a queue of live tokens, one per connection. A
      // request takes one, its answer puts the new one back (autocannon resets a connection's
      // context after every request of a one-request list, so the chain cannot live there).
      const live = [...tokens];
      record(
        name,
        t.id,
        await cannon({
          url: `${t.issuer}/token`,
          connections: tokens.length,
          requests: [
            {
              method: 'POST',
              headers: { authorization: BASIC, 'content-type': FORM },
              setupRequest: (req) => ({
                ...req,
                body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: live.shift() ?? 'none-left' }).toString(),
              }),
              onResponse: (status, body) => {
                if (status === 200) live.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
              },
            },
          ],
        }),
      );
    };
    for (const t of targets) await refreshRow('token (refresh_token)', t, prepared.get(t.id)!.refresh);
    for (const t of targets.filter((x) => x.id !== 'c'))
      await refreshRow('token (refresh_token, DingTalk recheck)', t, prepared.get(t.id)!.recheckRefresh);

    for (const t of targets) {
      const access = prepared.get(t.id)!.access;
      let n = 0;
      record(
        'userinfo',
        t.id,
        await cannon({
          url: `${t.issuer}/me`,
          requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${access[n++ % access.length]}` } }) }],
        }),
      );
    }
    for (const t of targets) {
      const access = prepared.get(t.id)!.access;
      let n = 0;
      record(
        'introspection',
        t.id,
        await cannon({
          url: `${t.issuer}/token/introspection`,
          requests: [
            {
              method: 'POST',
              headers: { authorization: BASIC, 'content-type': FORM },
              setupRequest: (req) => ({ ...req, body: new URLSearchParams({ token: access[n++ % access.length]! }).toString() }),
            },
          ],
        }),
      );
    }

    // Complete federated logins: authorize → sandbox → callback → code → token, a closed loop of workers.
    const logins: Report['logins'] = {};
    for (const t of targets) {
      const steps: Record<string, number[]> = {};
      let done = 0;
      let failed = 0;
      const until = performance.now() + S.loginSeconds * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: S.loginConcurrency }, async () => {
          while (performance.now() < until) {
            try {
              const t1 = performance.now();
              const code = await t.login(user, 'dingtalk', steps);
              await timed(steps, t.id === 'c' ? '2 token' : '4 token', () => redeem(t.issuer, code));
              (steps['total'] ??= []).push(performance.now() - t1);
              done += 1;
            } catch {
              failed += 1;
            }
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      logins[t.id] = {
        perSecond: done / seconds,
        failed,
        steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, { p50: percentile(v, 50), p99: percentile(v, 99) }])),
      };
      log(`  logins [${t.id}] ${(done / seconds).toFixed(0)}/s${failed ? ` (${failed} failed)` : ''}`);
    }
    const afterLoadRss = Object.fromEntries(targets.map((t) => [t.id, rssOf(t.child.pid)]));

    for (const t of targets) t.child.kill('SIGTERM');
    // Memory per store: sessions and grants seeded through the store API, one process each.
    const memory: Report['memory'] = {};
    for (const store of ['memory', 'redis'] as const) {
      const { ready } = await start([
        '--expose-gc',
        '--import',
        'tsx',
        'bench/servers/seed-store.ts',
        JSON.stringify({ store, sizes: S.sizes, redisUrl: LOCAL_REDIS_URL, keyPrefix: `${redisPrefix}seed:` }),
      ]);
      memory[store] = ready as unknown as Report['memory'][string];
      log(`  memory [${store}] ${JSON.stringify(ready)}`);
    }

    // The production build at start-up (or the source under tsx with --from src), a DingTalk-only
    // config as deployed, on either store.
    const production: Record<string, number> = {};
    for (const store of ['memory', 'redis'] as const) {
      const file = join(tmp, `startup-${store}.yaml`);
      writeFileSync(file, JSON.stringify(configOf(ports.startup, store, true)));
      const child = spawn(process.execPath, bridgeCommand(file), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      children.push(child);
      await answering(`${issuerOf(ports.startup)}/readyz`, child);
      production[store] = rssOf(child.pid);
      await new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      });
    }

    const report: Report = {
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        node: process.version,
        date: new Date().toISOString(),
        quick,
        from,
        seconds: Math.round((Date.now() - startedAt) / 1000),
      },
      labels: Object.fromEntries(targets.map((t) => [t.id, t.label])),
      rows,
      logins,
      rss: { startup: startupRss, afterLoad: afterLoadRss, production },
      memory,
    };
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, 'latest.md'), renderMarkdown(report));
    process.stdout.write(renderTable(report));
    log(`bench: done in ${report.machine.seconds} s; ${join(outDir, 'latest.json')} and latest.md written`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await cleanupPrefix(redisPrefix);
  }
}

function fail(message: string): never {
  throw new Error(message);
}

main().catch((err: unknown) => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
