/**
 * Property-based fuzzing of the bridge's side of its upstream calls. The upstream doubles (the fake
 * IDaaS as an `oauth2` upstream, two fake OIDC issuers, the DingTalk sandbox) answer one of the
 * bridge's calls (token exchange, userinfo / profile, DingTalk's app token, getbyunionid,
 * v2/user/get and department calls, OIDC discovery) with a hostile answer
 * (test/doubles/hostile-answers.ts): huge bodies, JSON of the wrong types, HTML for JSON, wrong
 * content types, a body trickling past the timeout, a 200 carrying an error, truncated or empty
 * bodies, redirects. Whatever arrives: the login answers (no hang), with a deliberate page naming
 * the upstream (the upstream-failed page with a retry link, or a refusal), never a 500 or a stack
 * trace; the huge bodies are cut off at the cap rather than read whole; nothing secret is logged;
 * and the bridge signs people in normally afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type * as client from 'openid-client';
import { MAX_UPSTREAM_BODY_BYTES } from '../../src/upstreams/capped-fetch.js';
import { API, OAPI } from '../../src/upstreams/dingtalk/constants.js';
import { createDingTalkSandbox, type DingTalkSandbox } from '../../src/sandbox/index.js';
import { sampleUserids } from '../../src/sandbox/sample-organisation.js';
import { listen } from '../../src/server/listen.js';
import { hostileAnswers, withHostile, type HostileAnswer, type HostileRule } from '../doubles/hostile-answers.js';
import { startBridge, COOKIE_SECRET, type DingTalkBridge, type DoublesBridge, type TestBridge } from '../helpers/bridge.js';
import { DINGTALK_SECRETS } from '../helpers/dingtalk-login.js';
import { leakedSecrets } from '../helpers/leaks.js';
import { hasStackTrace, headingOf, retryHrefOf } from '../helpers/pages.js';
import { DISPLAY_NAMES, ksRedirect, login, relyingParty, type UpstreamId } from '../helpers/upstream-login.js';

const RUNS = 40;
/** A property's own budget: far above its runs' answers (a drip or a timeout costs one or two `TIMEOUT_MS`). */
const BUDGET = { timeout: 240_000 };
/** The upstreams' timeout in these tests; the drip sends a byte far more often than that. */
const TIMEOUT_MS = 1500;
const DRIP_MS = 100;
/** Larger than the cap by far, so reading it whole would show. */
const HUGE_BYTES = 8 * MAX_UPSTREAM_BODY_BYTES;
/** A login that has not answered by then hangs (the answer is due after a few timeouts at most). */
const HANG_MS = 60_000;

/** Bytes the doubles wrote of each huge answer before the bridge hung up. */
interface HugeRecord {
  written: number;
  total: number;
}

/** Counts what a huge answer got out before the bridge hung up. */
function recordingHuge(rule: () => HostileRule | undefined, records: HugeRecord[]): () => HostileRule | undefined {
  return () => {
    const current = rule();
    if (!current) return undefined;
    return (req, path) => {
      const answer = current(req, path);
      if (answer?.kind === 'huge') {
        const record = { written: 0, total: answer.bytes };
        records.push(record);
        const socket = req.socket;
        const start = socket.bytesWritten;
        socket.once('close', () => (record.written = socket.bytesWritten - start));
      }
      return answer;
    };
  };
}

async function notHanging<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${HANG_MS} ms`)), HANG_MS);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

interface Outcome {
  status: number;
  html?: string;
  /** The RP redirect carried a code. */
  code?: string;
  error?: string;
}

/** What a page the person lands on must be: deliberate, naming the upstream, never a crash. */
function assertDeliberatePage(outcome: Outcome, names: readonly string[], context: string): void {
  if (outcome.code !== undefined) return;
  assert.equal(outcome.error, undefined, `${context}: no OAuth error back to the client (${outcome.error})`);
  const html = outcome.html ?? '';
  assert.ok([403, 502, 503].includes(outcome.status), `${context}: a deliberate status, got ${outcome.status}: ${headingOf(html)}`);
  assert.ok(!hasStackTrace(html), `${context}: no stack trace`);
  assert.notEqual(headingOf(html), '', `${context}: a page with a heading`);
  assert.ok(
    names.some((n) => html.includes(n)),
    `${context}: the page names the upstream (${names.join(' / ')}): ${headingOf(html)}`,
  );
  if (outcome.status === 502 && html.includes('upstream-failed')) assert.ok(retryHrefOf(html), `${context}: a retry link`);
}

function assertCutOff(records: HugeRecord[]): void {
  for (const r of records) {
    // The cap plus what the sockets' buffers take: far below the whole answer.
    assert.ok(r.written < r.total / 2, `a huge answer was read only up to the cap: ${r.written} of ${r.total} bytes`);
  }
}

function assertNothingSecretLogged(bridge: TestBridge, secrets: string[]): void {
  assert.deepEqual(leakedSecrets(JSON.stringify(bridge.logs), secrets), [], 'no secret, code or token in any log line');
}

/** Codes the upstreams handed the bridge (from the callbacks the browsers followed). */
function callbackCodes(history: { url: string }[]): string[] {
  return history.flatMap((h) => {
    const url = new URL(h.url);
    if (!url.pathname.includes('/upstream/')) return [];
    return [url.searchParams.get('code'), url.searchParams.get('authCode')].filter((c): c is string => !!c);
  });
}

describe('hostile answers from oauth2 and OIDC upstreams', () => {
  let bridge: DoublesBridge;
  let rule: HostileRule | undefined;
  const huge: HugeRecord[] = [];
  const codes: string[] = [];
  const rps = new Map<UpstreamId, client.Configuration>();

  before(async () => {
    bridge = await startBridge({
      upstream: 'doubles',
      upstreamConfig: { idaas: { timeoutMs: TIMEOUT_MS }, oidc: { timeoutMs: TIMEOUT_MS }, eiam: { timeoutMs: TIMEOUT_MS } },
    });
    const d = bridge.doubles;
    for (const double of [d.idaas, d.oidc, d.eiam]) double.setHostile((req, path) => recordingHuge(() => rule, huge)()?.(req, path));
    for (const id of ['idaas', 'oidc', 'eiam'] as const) {
      rps.set(id, await relyingParty(bridge.issuer, `ks-${id}`, id === 'oidc' ? 'post' : 'basic'));
    }
  });
  after(async () => {
    await bridge?.close();
  });

  /** Each target: the upstream, and the path on its double whose answer turns hostile. */
  function targets(): { upstream: UpstreamId; path: string }[] {
    const d = bridge.doubles;
    const pathOf = (url: string) => new URL(url).pathname;
    return [
      { upstream: 'idaas', path: '/oauth/token' },
      { upstream: 'idaas', path: '/api/bff/v1.2/oauth2/userinfo' },
      { upstream: 'oidc', path: pathOf(d.oidc.endpoints.token) },
      { upstream: 'oidc', path: pathOf(d.oidc.endpoints.userinfo) },
      // eiam's discovery has succeeded at start-up and is cached: its token endpoint instead, with client_secret_post.
      { upstream: 'eiam', path: pathOf(d.eiam.endpoints.token) },
    ];
  }

  async function signIn(upstream: UpstreamId): Promise<Outcome & { history: { url: string }[] }> {
    const leg = await notHanging(
      login(rps.get(upstream)!, { redirectUri: ksRedirect(upstream), state: upstream, nonce: false }),
      `a login at ${upstream}`,
    );
    const history = leg.browser.history;
    if (!leg.page) {
      const code = leg.callback.searchParams.get('code') ?? undefined;
      const error = leg.callback.searchParams.get('error') ?? undefined;
      return { status: 303, ...(code ? { code } : {}), ...(error ? { error } : {}), history };
    }
    return { status: leg.page.status, html: leg.page.html, history };
  }

  it('every hostile answer ends in a deliberate page naming the upstream, in bounded time and memory', BUDGET, async () => {
    const all = targets();
    const d = bridge.doubles;
    const seen = { failedPage: 0, code: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: all.length - 1 }),
        hostileAnswers({
          redirectTo: ['https://evil.example.test/x', d.oidc.endpoints.token, `${d.idaas.url}/oauth/token`],
          hugeBytes: HUGE_BYTES,
          dripMs: DRIP_MS,
        }),
        async (which, answer: HostileAnswer) => {
          const target = all[which]!;
          rule = (_req, path) => (path === target.path ? answer : undefined);
          let outcome;
          try {
            outcome = await signIn(target.upstream);
          } finally {
            rule = undefined;
          }
          codes.push(...callbackCodes(outcome.history));
          const context = `${target.upstream} ${target.path} ← ${answer.kind} ${JSON.stringify(answer).slice(0, 200)}`;
          assertDeliberatePage(outcome, Object.values(DISPLAY_NAMES[target.upstream]), context);
          if (outcome.code) seen.code += 1;
          else if (outcome.status === 502) seen.failedPage += 1;
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(seen.failedPage > RUNS / 2, `most hostile answers end on the upstream-failed page (${JSON.stringify(seen)})`);
    assertCutOff(huge);

    // Still healthy: every upstream signs people in.
    for (const upstream of ['idaas', 'oidc', 'eiam'] as const) {
      const outcome = await signIn(upstream);
      assert.ok(outcome.code, `${upstream} signs in after the fuzz (${outcome.status} ${headingOf(outcome.html ?? '')})`);
      codes.push(...callbackCodes(outcome.history));
    }
    assertNothingSecretLogged(bridge, [COOKIE_SECRET, d.idaas.clientSecret, d.oidc.clientSecret, d.eiam.clientSecret, ...codes]);
  });

  it('a hostile discovery document or JWKS ends in the upstream-failed page as well', BUDGET, async () => {
    // Neither is fetched again once good (discovery is cached, and so is a JWKS that parses): one
    // bridge whose issuer answers discovery badly from its start-up on, then the JWKS.
    const answers: HostileAnswer[] = [
      { kind: 'huge', bytes: HUGE_BYTES, declared: false, contentType: 'application/json' },
      { kind: 'huge', bytes: HUGE_BYTES, declared: true, contentType: 'application/json' },
      { kind: 'drip', status: 200, everyMs: DRIP_MS, contentType: 'application/json' },
      { kind: 'text', status: 200, text: '<html><body>Login</body></html>', contentType: 'text/html' },
      { kind: 'text', status: 200, text: '{"issuer": "', contentType: 'application/json' },
      { kind: 'json', status: 200, body: { error: 'server_error' }, contentType: 'application/json' },
      { kind: 'redirect', status: 302, location: 'https://evil.example.test/x' },
      { kind: 'json', status: 200, body: { keys: [{ kty: 1, kid: null }] }, contentType: 'application/json' },
    ];
    const records: HugeRecord[] = [];
    let current: { path: string; answer: HostileAnswer } | undefined;
    const rule = recordingHuge(() => (_req, p) => (p === current?.path ? current.answer : undefined), records);
    const discoveryPath = '/.well-known/openid-configuration';
    current = { path: discoveryPath, answer: answers[0]! };
    const fresh = await startBridge({
      upstream: 'doubles',
      doubles: { oidc: { hostile: (req, p) => rule()?.(req, p) } },
      upstreamConfig: { oidc: { timeoutMs: TIMEOUT_MS } },
    });
    try {
      const double = fresh.doubles.oidc;
      const rp = await relyingParty(fresh.issuer, 'ks-oidc', 'post');
      const codes: string[] = [];
      for (const [path, which] of [
        [discoveryPath, 'discovery'],
        [new URL(double.endpoints.jwks).pathname, 'jwks'],
      ] as const) {
        // A JWKS that parses would be kept until openid-client's refresh cooldown: discovery only.
        for (const answer of which === 'jwks' ? answers.slice(0, -1) : answers) {
          current = { path, answer };
          const leg = await notHanging(login(rp, { redirectUri: ksRedirect('oidc'), state: 'oidc', nonce: false }), `a login (${which})`);
          codes.push(...callbackCodes(leg.browser.history));
          const context = `${which} ← ${JSON.stringify(answer).slice(0, 120)}`;
          assert.ok(leg.page, `${context}: no code without a usable ${which}`);
          assertDeliberatePage({ status: leg.page.status, html: leg.page.html }, Object.values(DISPLAY_NAMES.oidc), context);
        }
      }
      current = undefined;
      const again = await login(rp, { redirectUri: ksRedirect('oidc'), state: 'oidc', nonce: false });
      assert.equal(again.page, undefined, 'signs in once discovery and JWKS are good again');
      codes.push(...callbackCodes(again.browser.history));
      assertCutOff(records);
      assert.ok(records.length >= 4, 'the huge answers were sent');
      assertNothingSecretLogged(fresh, [COOKIE_SECRET, double.clientSecret, ...codes]);
    } finally {
      await fresh.close();
    }
  });
});

describe('hostile answers from DingTalk', () => {
  let bridge: DingTalkBridge;
  let rule: HostileRule | undefined;
  const huge: HugeRecord[] = [];

  before(async () => {
    const sandbox = createDingTalkSandbox();
    // The sandbox on its own listener, with the hostile answers in front of it.
    const hostileSandbox: DingTalkSandbox = {
      ...sandbox,
      async listen() {
        const served = await listen(
          withHostile(
            sandbox.app,
            recordingHuge(() => rule, huge),
          ),
          { host: '127.0.0.1', port: 0 },
        );
        return { url: served.url, close: () => served.close({ graceMs: 0 }) };
      },
    };
    bridge = await startBridge({ upstream: 'dingtalk', sandbox: hostileSandbox, dingtalk: { timeoutMs: TIMEOUT_MS } });
  });
  after(async () => {
    await bridge?.close();
  });

  const TARGETS = [
    API.userAccessToken,
    API.usersMe,
    API.appAccessToken,
    OAPI.getByUnionId,
    OAPI.userGet,
    OAPI.departmentGet,
    OAPI.listParentByUser,
  ];

  async function dropCaches(): Promise<void> {
    // The app token and departments are cached: without them every call is made again.
    for (const key of await bridge.store.ephemeral.keys('dingtalk:')) await bridge.store.ephemeral.delete(key);
  }

  it('every hostile answer ends in a deliberate page naming DingTalk, in bounded time and memory', BUDGET, async () => {
    const seen = { failedPage: 0, code: 0, refused: 0 };
    const codes: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TARGETS),
        hostileAnswers({
          redirectTo: ['https://evil.example.test/x', `${bridge.sandboxUrl}${OAPI.userGet}`],
          hugeBytes: HUGE_BYTES,
          dripMs: DRIP_MS,
        }),
        async (path, answer) => {
          await dropCaches();
          rule = (_req, p) => (p === path ? answer : undefined);
          let result;
          try {
            result = await notHanging(bridge.loginAs(sampleUserids.manager, 'kubesphere'), `a DingTalk login (${path})`);
          } finally {
            rule = undefined;
          }
          codes.push(...callbackCodes(result.browser.history));
          const outcome: Outcome = result.page
            ? { status: result.page.status, html: result.page.html }
            : {
                status: 303,
                ...(result.code ? { code: result.code } : {}),
                ...(result.redirect?.searchParams.get('error') ? { error: result.redirect.searchParams.get('error')! } : {}),
              };
          assertDeliberatePage(outcome, ['钉钉', 'DingTalk'], `${path} ← ${JSON.stringify(answer).slice(0, 200)}`);
          if (outcome.code) seen.code += 1;
          else if (outcome.status === 502) seen.failedPage += 1;
          else seen.refused += 1;
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(seen.failedPage > RUNS / 2, `most hostile answers end on the upstream-failed page (${JSON.stringify(seen)})`);
    assertCutOff(huge);
    await dropCaches();
    const after = await bridge.loginAs(sampleUserids.manager, 'kubesphere');
    assert.ok(after.code, `DingTalk signs in after the fuzz (${after.page?.status} ${headingOf(after.page?.html ?? '')})`);
    assertNothingSecretLogged(bridge, [COOKIE_SECRET, ...DINGTALK_SECRETS, ...codes, ...callbackCodes(after.browser.history)]);
  });
});
