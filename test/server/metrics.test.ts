/**
 * The bridge's own Prometheus metrics (src/server/metrics.ts) through the production wiring
 * (buildBridge) against the DingTalk sandbox, read from the real `/metrics` endpoint of the
 * metrics listener (`metrics.listen`, never the issuer's): each case reads the counters before and
 * after one action and asserts the exact change.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { sampleUserids } from '../../src/sandbox/index.js';
import { Browser } from '../helpers/http-browser.js';
import { KNOWN_SECRETS, startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { KUBESPHERE_SECRET, type LoginResult } from '../helpers/dingtalk-login.js';
import { leakedSecrets } from '../helpers/leaks.js';
import { listen, type Listening } from '../../src/server/listen.js';

type Labels = Record<string, string>;

/** One sample of the text exposition format, by metric name and exact label set; 0 when absent. */
function sample(text: string, name: string, labels: Labels = {}): number {
  const want = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map((l) => [l[1]!, l[2]!])
      .sort(([a], [b]) => a!.localeCompare(b!));
    if (JSON.stringify(got) === JSON.stringify(want)) return Number(m[3]);
  }
  return 0;
}

const LOGIN_OUTCOMES = ['success', 'denied', 'not_allowed', 'misconfigured', 'unavailable', 'failed', 'invalid_state'];
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The metrics listener of a test bridge, as `oidc-bridge serve` opens it (src/cli/serve.ts). */
function listenMetrics(fb: DingTalkBridge): Promise<Listening> {
  return listen(fb.bridge.metricsHandler, { host: '127.0.0.1', port: 0 });
}

describe('Prometheus metrics through the whole bridge', () => {
  let fb: DingTalkBridge;
  let metrics: Listening;
  /** Codes, tokens and subs seen during the suite: none may appear in /metrics. */
  const seen: string[] = [];

  const scrape = async () => {
    const res = await fetch(`${metrics.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };
  /** Each named sample's change across `action`. */
  async function deltas(series: Record<string, [string, Labels?]>, action: () => Promise<void>): Promise<Record<string, number>> {
    const before = await scrape();
    await action();
    const after = await scrape();
    return Object.fromEntries(
      Object.entries(series).map(([key, [name, labels]]) => [key, sample(after, name, labels) - sample(before, name, labels)]),
    );
  }
  const logins = (outcome: string) => ['oidc_bridge_logins_total', { upstream: 'dingtalk', outcome }] as [string, Labels];
  const allLogins = () => Object.fromEntries(LOGIN_OUTCOMES.map((o) => [o, logins(o)]));
  const tokenRequests = (client_id: string, grant_type: string, outcome: string) =>
    ['oidc_bridge_token_requests_total', { client_id, grant_type, outcome }] as [string, Labels];
  const rechecks = (trigger: string, outcome: string) =>
    ['oidc_bridge_membership_rechecks_total', { upstream: 'dingtalk', trigger, outcome }] as [string, Labels];
  const offboarded: [string, Labels] = ['oidc_bridge_accounts_offboarded_total', { upstream: 'dingtalk' }];

  const remember = (login: LoginResult) => {
    const authCode = login.callbackUrl?.searchParams.get('authCode');
    if (authCode) seen.push(authCode);
    if (login.code) seen.push(login.code);
  };
  async function signIn(userid: string, clientId: string, scope: string) {
    const login = await fb.loginAs(userid, clientId, { scope });
    remember(login);
    assert.ok(login.redirect, `expected a code, got ${login.page?.status}`);
    const tokens = await fb.tokens(login);
    for (const t of [tokens.access_token, tokens.id_token, tokens.refresh_token]) if (t) seen.push(t);
    seen.push(tokens.claims()!.sub);
    return { login, tokens };
  }
  /** The OAuth error a refresh ends in, or 'ok'. */
  async function refresh(clientId: string, refreshToken: string): Promise<string> {
    try {
      const tokens = await client.refreshTokenGrant(await fb.rp(clientId), refreshToken);
      for (const t of [tokens.access_token, tokens.id_token, tokens.refresh_token]) if (t) seen.push(t);
      return 'ok';
    } catch (err) {
      if (err instanceof client.ResponseBodyError) return err.error;
      throw err;
    }
  }
  async function postToken(
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; error?: string }> {
    const endpoint = (await fb.rp('kubesphere')).serverMetadata().token_endpoint!;
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, ...((await res.json()) as { error?: string }) };
  }

  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory' });
    metrics = await listenMetrics(fb);
  });
  after(async () => {
    await metrics?.close({ graceMs: 0 });
    await fb?.close();
  });

  it("is not served on the issuer's listener, and the metrics listener serves nothing else", async () => {
    const res = await fetch(`${fb.url}/metrics`, { headers: { accept: 'text/plain' } });
    assert.equal(res.status, 404, "/metrics on the issuer's listener");
    assert.doesNotMatch(await res.text(), /oidc_bridge_/);
    for (const path of ['/', '/healthz', '/.well-known/openid-configuration']) {
      assert.equal((await fetch(`${metrics.url}${path}`)).status, 404, `${path} on the metrics listener`);
    }
    assert.equal((await fetch(`${metrics.url}/metrics`, { method: 'POST' })).status, 405);
  });

  it('publishes build info, and every login and sweep outcome as a zero series before anything happens', async () => {
    const text = await scrape();
    assert.equal(sample(text, 'oidc_bridge_build_info', { version: VERSION }), 1);
    for (const outcome of LOGIN_OUTCOMES)
      assert.match(text, new RegExp(`^oidc_bridge_logins_total\\{upstream="dingtalk",outcome="${outcome}"\\} 0$`, 'm'));
    assert.match(text, /^oidc_bridge_accounts_offboarded_total\{upstream="dingtalk"\} 0$/m);
    assert.match(text, /^oidc_bridge_membership_sweeps_total\{outcome="completed"\} 0$/m);
    assert.match(text, /^oidc_bridge_membership_sweep_last_success_timestamp_seconds 0$/m);
    assert.match(text, /^oidc_bridge_store_up 1$/m, 'the store health gauge is kept');
  });

  it('counts a successful sign-in once, and the code exchange as a token request of that client', async () => {
    let login: LoginResult | undefined;
    const d1 = await deltas(allLogins(), async () => {
      login = await fb.loginAs(sampleUserids.liNa, 'kubesphere', { scope: 'openid profile' });
      remember(login);
    });
    assert.deepEqual(d1, { ...Object.fromEntries(LOGIN_OUTCOMES.map((o) => [o, 0])), success: 1 });
    const d2 = await deltas(
      {
        success: tokenRequests('kubesphere', 'authorization_code', 'success'),
        otherClient: tokenRequests('kubectl', 'authorization_code', 'success'),
      },
      async () => {
        const tokens = await fb.tokens(login!);
        for (const t of [tokens.access_token, tokens.id_token, tokens.refresh_token]) if (t) seen.push(t);
      },
    );
    assert.deepEqual(d2, { success: 1, otherClient: 0 });
  });

  it('counts a person who left the organisation as not_allowed', async () => {
    const d = await deltas(allLogins(), async () => {
      const login = await fb.loginAs(sampleUserids.departed, 'kubesphere');
      remember(login);
      assert.equal(login.page?.status, 403);
    });
    assert.deepEqual(d, { ...Object.fromEntries(LOGIN_OUTCOMES.map((o) => [o, 0])), not_allowed: 1 });
  });

  it('counts a callback finished in another browser as invalid_state', async () => {
    const pending = await fb.startLogin('kubesphere');
    const callback = await fb.chooseAtSandbox(pending, sampleUserids.noEmail);
    seen.push(callback.searchParams.get('authCode')!);
    const d = await deltas(allLogins(), async () => {
      const hijack = await fb.finishLogin(pending, callback, new Browser());
      assert.equal(hijack.page?.status, 400);
    });
    assert.deepEqual(d, { ...Object.fromEntries(LOGIN_OUTCOMES.map((o) => [o, 0])), invalid_state: 1 });
  });

  it('labels refused token requests with their error code, and only configured clients and known grant types', async () => {
    const { login } = await signIn(sampleUserids.manager, 'kubesphere', 'openid');
    const basic = (secret: string) => `Basic ${Buffer.from(`kubesphere:${secret}`).toString('base64')}`;
    const d = await deltas(
      {
        reused: tokenRequests('kubesphere', 'authorization_code', 'invalid_grant'),
        wrongSecret: tokenRequests('kubesphere', 'authorization_code', 'invalid_client'),
        strangerClient: tokenRequests('unknown', 'other', 'invalid_client'),
      },
      async () => {
        const form = { grant_type: 'authorization_code', code: login.code!, redirect_uri: login.redirectUri };
        assert.equal((await postToken(form, { authorization: basic(KUBESPHERE_SECRET) })).error, 'invalid_grant');
        assert.equal((await postToken(form, { authorization: basic('not-the-secret') })).error, 'invalid_client');
        const stranger = await postToken({ grant_type: 'made-up-grant-xyzzy', client_id: 'attacker-chosen-client-xyzzy' });
        assert.equal(stranger.error, 'invalid_client');
      },
    );
    assert.deepEqual(d, { reused: 1, wrongSecret: 1, strangerClient: 1 });
    const text = await scrape();
    assert.doesNotMatch(text, /xyzzy/, 'request input never becomes a label value');
  });

  it('counts refreshes, the membership recheck each one asks for, and the offboarding of a person who left', async () => {
    const { tokens } = await signIn(sampleUserids.marketingHead, 'kubectl', 'openid groups offline_access');
    let token = tokens.refresh_token!;
    const fine = await deltas(
      {
        success: tokenRequests('kubectl', 'refresh_token', 'success'),
        ok: rechecks('refresh', 'ok'),
        offboarded,
      },
      async () => {
        const rotated = await client.refreshTokenGrant(await fb.rp('kubectl'), token);
        for (const t of [rotated.access_token, rotated.id_token, rotated.refresh_token]) if (t) seen.push(t);
        token = rotated.refresh_token ?? token;
      },
    );
    assert.deepEqual(fine, { success: 1, ok: 1, offboarded: 0 });

    fb.sandbox.removeMember(sampleUserids.marketingHead);
    const refused = await deltas(
      {
        invalidGrant: tokenRequests('kubectl', 'refresh_token', 'invalid_grant'),
        success: tokenRequests('kubectl', 'refresh_token', 'success'),
        revoked: rechecks('refresh', 'revoked'),
        ok: rechecks('refresh', 'ok'),
        offboarded,
      },
      async () => {
        assert.equal(await refresh('kubectl', token), 'invalid_grant');
      },
    );
    assert.deepEqual(refused, { invalidGrant: 1, success: 0, revoked: 1, ok: 0, offboarded: 1 });
  });

  it('counts a sweep, its rechecks, the person it offboards, and when it last completed', async () => {
    await signIn(sampleUserids.southSales, 'kubesphere', 'openid');
    fb.sandbox.removeMember(sampleUserids.southSales);
    const startedAt = Math.floor(Date.now() / 1000);
    let result: Awaited<ReturnType<DingTalkBridge['bridge']['membership']['sweep']>> | undefined;
    const d = await deltas(
      {
        revoked: rechecks('sweep', 'revoked'),
        ok: rechecks('sweep', 'ok'),
        refreshRevoked: rechecks('refresh', 'revoked'),
        offboarded,
        completed: ['oidc_bridge_membership_sweeps_total', { outcome: 'completed' }],
      },
      async () => {
        result = await fb.bridge.membership.sweep();
      },
    );
    assert.equal(result?.ran, true);
    assert.equal(result.unavailable, 0);
    assert.deepEqual(d, { revoked: 1, ok: result.checked - 1, refreshRevoked: 0, offboarded: 1, completed: 1 });
    assert.ok(result.checked >= 2, 'the people still signed in were rechecked too');
    const last = sample(await scrape(), 'oidc_bridge_membership_sweep_last_success_timestamp_seconds');
    assert.ok(last >= startedAt && last <= Date.now() / 1000 + 1, `last sweep at ${last}`);
  });

  it('counts a sweep another replica is running as skipped, without touching the last success time', async () => {
    const lock = await fb.bridge.store.lock('membership-sweep', 60);
    assert.ok(lock, 'this test holds the sweep lock');
    const lastBefore = sample(await scrape(), 'oidc_bridge_membership_sweep_last_success_timestamp_seconds');
    try {
      const d = await deltas(
        {
          skipped: ['oidc_bridge_membership_sweeps_total', { outcome: 'skipped' }],
          completed: ['oidc_bridge_membership_sweeps_total', { outcome: 'completed' }],
        },
        async () => {
          assert.equal((await fb.bridge.membership.sweep()).ran, false);
        },
      );
      assert.deepEqual(d, { skipped: 1, completed: 0 });
      assert.equal(sample(await scrape(), 'oidc_bridge_membership_sweep_last_success_timestamp_seconds'), lastBefore);
    } finally {
      await lock.release();
    }
  });

  it('never exposes a token, a code, a secret, a user id or a sub', async () => {
    const text = await scrape();
    assert.ok(seen.length > 10, 'the suite saw codes and tokens');
    assert.deepEqual(leakedSecrets(text, [...KNOWN_SECRETS, ...seen, ...Object.values(sampleUserids)]), []);
    assert.doesNotMatch(text, /eyJ[\w-]{10,}/, 'no JWT');
  });
});

describe('Prometheus metrics: a reused browser session due a membership recheck', () => {
  let fb: DingTalkBridge;
  let metrics: Listening;
  before(async () => {
    // recheckAfter 0: every reuse of a session asks DingTalk again.
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', dingtalk: { recheckAfter: 0 } });
    metrics = await listenMetrics(fb);
  });
  after(async () => {
    await metrics?.close({ graceMs: 0 });
    await fb?.close();
  });

  it('counts the session recheck, and the offboarding when the person has left', async () => {
    const scrape = async () => (await fetch(`${metrics.url}/metrics`)).text();
    const labels = (outcome: string) => ({ upstream: 'dingtalk', trigger: 'session', outcome });
    const browser = new Browser();
    const first = await fb.loginAs(sampleUserids.wangFangPlatform, 'kubesphere', { browser });
    assert.ok(first.code, 'first login');
    const before = await scrape();
    const again = await fb.loginAs(sampleUserids.wangFangPlatform, 'kubesphere', { browser });
    assert.ok(again.code, 'the session is reused after the recheck');
    const middle = await scrape();
    assert.equal(
      sample(middle, 'oidc_bridge_membership_rechecks_total', labels('ok')) -
        sample(before, 'oidc_bridge_membership_rechecks_total', labels('ok')),
      1,
    );
    fb.sandbox.removeMember(sampleUserids.wangFangPlatform);
    const refused = await fb.loginAs(sampleUserids.wangFangPlatform, 'kubesphere', { browser });
    assert.equal(refused.page?.status, 403);
    const last = await scrape();
    assert.equal(
      sample(last, 'oidc_bridge_membership_rechecks_total', labels('revoked')) -
        sample(middle, 'oidc_bridge_membership_rechecks_total', labels('revoked')),
      1,
    );
    assert.equal(
      sample(last, 'oidc_bridge_accounts_offboarded_total', { upstream: 'dingtalk' }) -
        sample(middle, 'oidc_bridge_accounts_offboarded_total', { upstream: 'dingtalk' }),
      1,
    );
  });
});
