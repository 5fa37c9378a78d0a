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
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { configSchema } from '../src/config/schema.js';
import { generateKeys, loadKeys } from '../src/oidc/keys.js';
import { sampleUserids } from '../src/sandbox/index.js';
import { dingtalkDriver, type DingTalkDriver } from '../test/helpers/dingtalk-login.js';
import { Browser } from '../test/helpers/http-browser.js';
import { cleanupPrefix, freePort, LOCAL_REDIS_URL, testPrefix } from '../test/helpers/redis.js';
import { renderMarkdown, renderTable, type Measured, type Report, type Reported, type Row } from './report.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const from = (args[args.indexOf('--from') + 1] ?? '') === 'src' || (quick && !args.includes('--from')) ? 'src' : 'dist';
const outDir = args.includes('--out') ? resolve(args[args.indexOf('--out') + 1]!) : join(ROOT, 'bench', 'results');
/**
 * `--profile <dir>`: the three servers run with --cpu-prof and write their profiles to `<dir>/a`, `b`
 * and `c` when stopped (a directory each: under tsx a loader thread writes a profile of its own).
 */
const profileDir = args.includes('--profile') ? resolve(args[args.indexOf('--profile') + 1]!) : undefined;
/** `--only discovery,token,...`: the sections to run (by the first word of a row's name, `logins`, `memory`). */
const only = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1]!.split(',')) : undefined;
const want = (section: string) => !only || only.has(section);
const profiled = (id: string) => (profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, id)}`] : []);

const S = quick
  ? {
      duration: 1,
      rounds: 1,
      connections: 4,
      codes: 40,
      codeRounds: 1,
      prepareSeconds: 10,
      chains: 4,
      loginSeconds: 1,
      loginRounds: 1,
      loginConcurrency: 4,
      cpuLogins: 5,
      sizes: [1000],
      idleSeconds: 2,
    }
  : {
      duration: 3,
      rounds: 5,
      connections: 16,
      codes: 2400,
      codeRounds: 3,
      prepareSeconds: 50,
      chains: 16,
      // Logins: three interleaved rounds of a 4 s closed loop, then three of 70 logins one at a time.
      loginSeconds: 4,
      loginRounds: 3,
      loginConcurrency: 16,
      cpuLogins: 70,
      sizes: [1000, 10_000, 100_000],
      // V8's memory reducer gives back the young generation start-up grew once the process has
      // been quiet for a while (https://github.com/v8/v8/blob/main/src/heap/memory-reducer.cc): seen here
      // after 20 to 40 s.
      idleSeconds: 60,
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

/**
 * With two cores or more (and util-linux's taskset), the servers under test run on the last core
 * and everything else (this process with the load generator, the upstreams, the seeding processes)
 * on the others: the load generator then never takes CPU from the server it measures, and every
 * server, bridge or bare engine, gets the same single core. `--no-pin` turns it off.
 */
const pinning = ((): { server: string; rest: string } | undefined => {
  const last = cpus().length - 1;
  if (last < 1 || args.includes('--no-pin')) return undefined;
  const rest = last === 1 ? '0' : `0-${last - 1}`;
  try {
    // -a: every thread of this process; children inherit the mask.
    execFileSync('taskset', ['-a', '-p', '-c', rest, String(process.pid)], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { server: String(last), rest };
})();

/** Spawns node with `command`; a server under test on its own core (see `pinning`). */
function node(command: string[], options: SpawnOptions, server = false): ChildProcess {
  // taskset execs node in place: the child's pid is node's (its /proc figures are the server's).
  const child =
    server && pinning
      ? spawn('taskset', ['-c', pinning.server, process.execPath, ...command], options)
      : spawn(process.execPath, command, options);
  children.push(child);
  return child;
}

/** A child process that prints one JSON line when ready. */
function start(command: string[], server = false): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = node(command, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }, server);
  return new Promise((resolveReady, reject) => {
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code} before it was ready`)));
    const lines = createInterface({ input: child.stdout! });
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

/** The round with the highest `score` among the `clean` ones, or among all when none is clean. */
function bestRound<T>(all: T[], score: (round: T) => number, clean: (round: T) => boolean): T {
  const candidates = all.filter(clean);
  return (candidates.length ? candidates : all).reduce((x, y) => (score(y) > score(x) ? y : x));
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

/**
 * While set, `timed` also adds the server's CPU time over each step to `ms[step]`: meaningful only
 * with one login at a time (the sequential pass after the closed loop), when nothing else runs on
 * the server between a step's start and its end.
 */
let cpuTrack: { pid: number | undefined; ms: Record<string, number> } | undefined;

async function timed<T>(steps: Record<string, number[]> | undefined, name: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const track = cpuTrack;
  const cpu0 = track ? cpuMsOf(track.pid) : 0;
  const value = await run();
  (steps?.[name] ?? (steps ? (steps[name] = []) : [])).push(performance.now() - t0);
  if (track) track.ms[name] = (track.ms[name] ?? 0) + cpuMsOf(track.pid) - cpu0;
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

/** CPU time the process has used (user + system), in ms, from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 10 ms). */
function cpuMsOf(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Loads one server. Besides throughput and latency, the server's own CPU time per request: the
 * load generator shares the machine's cores, so throughput moves with whatever else runs, while
 * the CPU a server spends on one request is its cost, whatever the machine is doing.
 */
async function cannon(target: { child: ChildProcess }, options: autocannon.Options): Promise<Measured> {
  const amount = options.amount;
  const cpuBefore = cpuMsOf(target.child.pid);
  const t0 = performance.now();
  let answers = 0;
  let end: { at: number; cpuMs: number } | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    try {
      const instance = autocannon(
        // Fewer requests than connections would make autocannon refuse the run.
        { connections: amount ? Math.min(S.connections, amount) : S.connections, duration: S.duration, ...options },
        (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
      );
      // A run of a given amount ends at its last answer: autocannon stops it only on its next
      // sample tick (`sampleInt`, 1 s; tickInterval in
      // https://github.com/mcollina/autocannon/blob/v8.0.0/lib/run.js), so its own clock, and the
      // server's CPU read after it, would count up to a second of idling.
      if (amount)
        instance.on('response', () => {
          answers += 1;
          if (answers === amount) end = { at: performance.now(), cpuMs: cpuMsOf(target.child.pid) };
        });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
  // A run that lost answers (errors, timeouts) is timed to its end, as a run of a duration is.
  const cpuMs = (end?.cpuMs ?? cpuMsOf(target.child.pid)) - cpuBefore;
  return {
    rps: amount ? result.requests.total / (((end?.at ?? performance.now()) - t0) / 1000) : result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    cpuUsPerRequest: result.requests.total > 0 ? (cpuMs * 1000) / result.requests.total : 0,
    ...(amount ? { amount } : {}),
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

  const ports = {
    a: await freePort(),
    b: await freePort(),
    c: await freePort(),
    startup: { memory: await freePort(), redis: await freePort() },
  };
  const issuerOf = (port: number) => `http://127.0.0.1:${port}`;
  const callbacks = (id: string) =>
    [ports.a, ports.b, ports.startup.memory, ports.startup.redis].map((p) => `${issuerOf(p)}/upstream/${id}/callback`);
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
    // Nothing balances load in front of the bench's servers: stop at once when told.
    shutdown: { drainDelay: 0 },
    // Every request is still counted, as in production (one store call per limited request), but
    // the load generator's single address never reaches a budget.
    rateLimits:
      process.env.BENCH_RL === 'off'
        ? { enabled: false }
        : Object.fromEntries(
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
  const bridgeCommand = (file: string, profileAs?: string) => [
    ...(profileAs ? profiled(profileAs) : []),
    ...(from === 'dist' ? ['dist/main.js', 'serve', '--config', file] : ['--import', 'tsx', 'src/main.ts', 'serve', '--config', file]),
  ];

  const startBridge = async (id: 'a' | 'b', store: 'memory' | 'redis'): Promise<Target> => {
    const input = configOf(ports[id], store);
    const file = join(tmp, `${id}.yaml`);
    writeFileSync(file, JSON.stringify(input, null, 2)); // JSON is YAML
    const child = node(bridgeCommand(file, id), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] }, true);
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
    const { child, ready } = await start(
      [...profiled('c'), '--import', 'tsx', 'bench/servers/bare-provider.ts', JSON.stringify({ port: ports.c, jwksFile, client })],
      true,
    );
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
  const record = (name: string, id: TargetId, m: Reported) => {
    let row = rows.find((r) => r.name === name);
    if (!row) rows.push((row = { name, results: {} }));
    row.results[id] = m;
    log(
      `  ${name} [${id}] ${m.rps.toFixed(0)}/s p99 ${m.p99} ms ${m.cpuUsPerRequest.toFixed(0)} µs CPU/req${m.errors ? ` (${m.errors} errors)` : ''}`,
    );
  };
  /**
   * The round reported for a server: the best by throughput among those without a single error
   * or non-2xx answer (a round of fast refusals, e.g. a broken refresh chain, would otherwise
   * win), else the best of all; with the errors of every round, and every round kept in the JSON.
   */
  const best = (all: Measured[]): Reported => {
    const pick = bestRound(
      all,
      (m) => m.rps,
      (m) => m.errors === 0,
    );
    return {
      ...pick,
      errors: all.reduce((sum, m) => sum + m.errors, 0),
      rounds: all.map((m) => ({
        rps: m.rps,
        cpuUsPerRequest: m.cpuUsPerRequest,
        errors: m.errors,
        ...(m.amount ? { amount: m.amount } : {}),
      })),
    };
  };
  /**
   * Loads each server in turn, round after round (a, b, c, a, b, c, …), and records each server's
   * best clean round by throughput (with that round's latency and CPU). What disturbs a CPU-bound
   * server pinned to its core (a slow spell of the machine, a neighbour on the host) only ever
   * slows it, so the best round is the closest to what the code costs, and interleaving gives
   * every server the same chances of a quiet round.
   */
  const measure = async (name: string, servers: Target[], optionsOf: (t: Target) => autocannon.Options) => {
    const runs = new Map<TargetId, Measured[]>(servers.map((t) => [t.id, []]));
    for (let round = 0; round < S.rounds; round += 1)
      for (const t of servers) runs.get(t.id)!.push(await cannon(t, { duration: S.duration, ...optionsOf(t) }));
    for (const t of servers) {
      record(name, t.id, best(runs.get(t.id)!));
    }
  };

  try {
    // Tokens for userinfo, introspection and the refresh chains: one login per connection and round
    // (a round that stops with requests in flight loses their rotated tokens: each round gets its own chains).
    const user = sampleUserids.manager;
    const prepared = new Map<TargetId, { access: string[]; refresh: string[]; recheckRefresh: string[] }>();
    for (const t of targets) {
      const upstream = t.id === 'c' ? 'dingtalk' : 'corp';
      const plain = await pool(S.chains * S.rounds, 4, async () => redeem(t.issuer, await t.login(user, upstream)));
      const recheck = t.id === 'c' ? [] : await pool(S.chains * S.rounds, 4, async () => redeem(t.issuer, await t.login(user, 'dingtalk')));
      prepared.set(t.id, {
        access: [...plain, ...recheck].map((x) => x.access_token),
        refresh: plain.map((x) => x.refresh_token),
        recheckRefresh: recheck.map((x) => x.refresh_token),
      });
    }

    if (want('discovery')) await measure('discovery', targets, (t) => ({ url: `${t.issuer}/.well-known/openid-configuration` }));
    if (want('jwks')) await measure('JWKS', targets, (t) => ({ url: `${t.issuer}/jwks` }));

    if (want('token')) {
      // Codes live 60 s: each server's are prepared right before its round, at most
      // S.codes / S.codeRounds of them and only as many as S.prepareSeconds / S.codeRounds allow,
      // well inside that lifetime. Rounds interleave as in `measure`, and the best one is recorded.
      const runs = new Map<TargetId, Measured[]>(targets.map((t) => [t.id, []]));
      for (let round = 0; round < S.codeRounds; round += 1)
        for (const t of targets) {
          const codes: string[] = [];
          const prepareUntil = performance.now() + (S.prepareSeconds * 1000) / S.codeRounds;
          await Promise.all(
            Array.from({ length: 8 }, async () => {
              while (codes.length < S.codes / S.codeRounds && performance.now() < prepareUntil)
                codes.push(await t.login(user, t.id === 'c' ? 'dingtalk' : 'corp'));
            }),
          );
          if (codes.length < S.connections) throw new Error(`only ${codes.length} codes prepared for ${t.label}: is it answering?`);
          // The logins just made leave garbage behind; collecting it is not the redemptions' cost.
          await delay(1000);
          let next = 0;
          runs.get(t.id)!.push(
            await cannon(t, {
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
      for (const t of targets) record('token (authorization_code)', t.id, best(runs.get(t.id)!));
    }

    const refreshRow = async (name: string, servers: Target[], tokensOf: (t: Target) => string[]) => {
      // Each redemption rotates the refresh token: a queue of live tokens per server and round, one
      // per connection. A request takes one, its answer puts the new one back (autocannon resets a
      // connection's context after every request of a one-request list, so the chain cannot live there).
      const rounds = new Map<TargetId, number>();
      await measure(name, servers, (t) => {
        const round = rounds.get(t.id) ?? 0;
        rounds.set(t.id, round + 1);
        const live = tokensOf(t).slice(round * S.chains, (round + 1) * S.chains);
        return {
          url: `${t.issuer}/token`,
          connections: live.length,
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
        };
      });
    };
    if (want('refresh')) await refreshRow('token (refresh_token)', targets, (t) => prepared.get(t.id)!.refresh);
    if (want('recheck'))
      await refreshRow(
        'token (refresh_token, DingTalk recheck)',
        targets.filter((x) => x.id !== 'c'),
        (t) => prepared.get(t.id)!.recheckRefresh,
      );

    if (want('userinfo')) {
      let n = 0;
      await measure('userinfo', targets, (t) => {
        const access = prepared.get(t.id)!.access;
        return {
          url: `${t.issuer}/me`,
          requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${access[n++ % access.length]}` } }) }],
        };
      });
    }
    if (want('introspection')) {
      let n = 0;
      await measure('introspection', targets, (t) => {
        const access = prepared.get(t.id)!.access;
        return {
          url: `${t.issuer}/token/introspection`,
          requests: [
            {
              method: 'POST',
              headers: { authorization: BASIC, 'content-type': FORM },
              setupRequest: (req) => ({ ...req, body: new URLSearchParams({ token: access[n++ % access.length]! }).toString() }),
            },
          ],
        };
      });
    }

    // Complete federated logins: authorize → sandbox → callback → code → token, a closed loop of workers.
    const logins: Report['logins'] = {};
    if (want('logins')) {
      type Loop = { perSecond: number; failed: number; steps: Record<string, number[]> };
      const loops = new Map<TargetId, Loop[]>(targets.map((t) => [t.id, []]));
      const cpus = new Map<TargetId, Array<Record<string, number>>>(targets.map((t) => [t.id, []]));
      // A closed loop of workers, round after round as in `measure` (a, b, c, a, b, c, …).
      for (let round = 0; round < S.loginRounds; round += 1)
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
          loops.get(t.id)!.push({ perSecond: done / ((performance.now() - t0) / 1000), failed, steps });
        }
      // Then one login at a time, also in interleaved rounds: the server's CPU per step.
      for (let round = 0; round < S.loginRounds; round += 1)
        for (const t of targets) {
          cpuTrack = { pid: t.child.pid, ms: {} };
          for (let i = 0; i < S.cpuLogins; i += 1) {
            const t1 = cpuMsOf(t.child.pid);
            const code = await t.login(user, 'dingtalk', {});
            await timed({}, t.id === 'c' ? '2 token' : '4 token', () => redeem(t.issuer, code));
            cpuTrack.ms['total'] = (cpuTrack.ms['total'] ?? 0) + cpuMsOf(t.child.pid) - t1;
          }
          cpus.get(t.id)!.push(cpuTrack.ms);
          cpuTrack = undefined;
        }
      // As for the other rows, the best round: the most logins a second (of the rounds without a
      // failed login, if any), and the round with the least CPU per login.
      for (const t of targets) {
        const all = loops.get(t.id)!;
        const loop = bestRound(
          all,
          (l) => l.perSecond,
          (l) => l.failed === 0,
        );
        const cpu = cpus.get(t.id)!.reduce((x, y) => ((y['total'] ?? 0) < (x['total'] ?? 0) ? y : x));
        logins[t.id] = {
          perSecond: loop.perSecond,
          failed: all.reduce((sum, l) => sum + l.failed, 0),
          rounds: all.map((l) => l.perSecond),
          steps: Object.fromEntries(
            Object.entries(loop.steps).map(([k, v]) => [
              k,
              { p50: percentile(v, 50), p99: percentile(v, 99), cpuMs: (cpu[k] ?? 0) / S.cpuLogins },
            ]),
          ),
        };
        log(`  logins [${t.id}] ${loop.perSecond.toFixed(0)}/s${logins[t.id]!.failed ? ` (${logins[t.id]!.failed} failed)` : ''}`);
      }
    }
    const afterLoadRss = Object.fromEntries(targets.map((t) => [t.id, rssOf(t.child.pid)]));

    // Stopped and waited for, so that a profiled server has written its profile.
    await Promise.all(targets.map((t) => new Promise((r) => (t.child.once('exit', r), t.child.kill('SIGTERM')))));
    // Memory per store: sessions and grants seeded through the store API, one process each.
    const memory: Report['memory'] = {};
    for (const store of want('memory') ? (['memory', 'redis'] as const) : []) {
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
    // config as deployed, on either store (both at once): when it first answers, and the least it
    // holds in the following `idleSeconds` without a request, once V8 has given back what start-up took.
    const production: Record<string, number> = {};
    const productionIdle: Record<string, number> = {};
    await Promise.all(
      (want('memory') ? (['memory', 'redis'] as const) : []).map(async (store) => {
        const file = join(tmp, `startup-${store}.yaml`);
        writeFileSync(file, JSON.stringify(configOf(ports.startup[store], store, true)));
        const child = node(bridgeCommand(file), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
        await answering(`${issuerOf(ports.startup[store])}/readyz`, child);
        production[store] = rssOf(child.pid);
        let idle = Infinity;
        for (let s = 0; s < S.idleSeconds; s += 1) {
          await delay(1000);
          idle = Math.min(idle, rssOf(child.pid));
        }
        productionIdle[store] = idle;
        await new Promise((r) => {
          child.once('exit', r);
          child.kill('SIGTERM');
        });
      }),
    );

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
      method: {
        rounds: S.rounds,
        secondsPerRound: S.duration,
        codeRounds: S.codeRounds,
        codesPerRound: S.codes / S.codeRounds,
        loginRounds: S.loginRounds,
        estimator: 'best round by throughput among those without errors, rounds interleaved a, b, c, a, b, c, …',
      },
      labels: Object.fromEntries(targets.map((t) => [t.id, t.label])),
      rows,
      logins,
      rss: { startup: startupRss, afterLoad: afterLoadRss, production, productionIdle, idleSeconds: S.idleSeconds },
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
