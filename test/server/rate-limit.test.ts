/**
 * Rate limits in front of oidc-provider (src/server/rate-limit.ts, src/store/rate-limits.ts):
 * budgets shared by replicas through Redis and per process on the memory store, 429 with
 * Retry-After and an OAuth body or a page, the allow-list of client networks, no way to lock a
 * client out with its id, the metric, and fail-open while Redis is down. Limits are configured
 * small; each case takes its client address from X-Forwarded-For through one trusted hop
 * (`trustProxy: { hops: 1 }`), so cases never share a budget.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { configSchema } from '../../src/config/schema.js';
import { limitedAddress } from '../../src/server/rate-limit.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { startBridge, RP, TEST_CLIENTS, type Bridge, type OidcIssuerBridge } from '../helpers/bridge.js';
import { basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { deviceClient } from '../helpers/device-flow.js';

const WEB_CB = `${RP}/cb`;
/** Small budgets: a case reaches them in a handful of requests, and the window outlasts any test run. */
const LIMITS = {
  trustProxy: { hops: 1 },
  rateLimits: {
    allowCidrs: ['203.0.113.0/24', '2001:db8:a::/48'],
    token: { points: 3, duration: '10m' },
    authorization: { points: 3, duration: '10m' },
    upstreamCallback: { points: 2, duration: '10m' },
  },
};

let nextAddress = 1;
/** A client address of its own for each use (TEST-NET-2), so no two cases share a budget. */
const freshAddress = () => `198.51.100.${nextAddress++}`;

const from = (address: string, headers: Record<string, string> = {}) => ({ 'x-forwarded-for': address, ...headers });

/** A token request the engine refuses (the code is made up): it still counts against the budget. */
function badCodeRedemption(issuer: string, headers: Record<string, string>): Promise<Response> {
  return postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: 'made-up', redirect_uri: WEB_CB }, headers);
}

/**
 * A bad code redemption as raw HTTP/1.1, so the request target goes on the wire as given (fetch
 * would normalise it): the status code.
 */
function rawTokenRequest(host: string, port: number, target: string, address: string): Promise<number> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code: 'made-up', redirect_uri: WEB_CB }).toString();
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => {
      socket.write(
        `POST ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\nX-Forwarded-For: ${address}\r\nAuthorization: ${basic('web', 'web-secret')}\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

function authorizationStart(issuer: string, headers: Record<string, string>): Promise<Response> {
  const query = new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: WEB_CB, state: 's' });
  return fetch(`${issuer}/auth?${query}`, { headers, redirect: 'manual' });
}

async function assertOAuth429(res: Response): Promise<void> {
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 600, `Retry-After ${res.headers.get('retry-after')}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as { error: string; error_description: string };
  assert.equal(body.error, 'temporarily_unavailable');
  assert.match(body.error_description, /too many requests/);
}

/** A 429 page: Retry-After, HTML with the headers of every page, saying how long to wait. */
async function assertPage429(res: Response, locale: 'en' | 'zh-CN'): Promise<string> {
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 600, `Retry-After ${res.headers.get('retry-after')}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const page = await res.text();
  assert.match(page, new RegExp(`lang="${locale}"`));
  assert.match(page, new RegExp(locale === 'en' ? `Wait ${retryAfter} seconds` : `请等待 ${retryAfter} 秒`));
  return page;
}

for (const store of ['memory', 'redis'] as const) {
  describe(`rate limits on the ${store} store`, () => {
    let bridge: Bridge;
    before(async () => {
      bridge = await startBridge({ store, configPatch: LIMITS });
    });
    after(() => bridge.close());

    it('answers /token beyond its budget with 429, Retry-After and an OAuth error body', async () => {
      const headers = from(freshAddress(), { authorization: basic('web', 'web-secret') });
      for (let i = 0; i < 3; i += 1) {
        const res = await badCodeRedemption(bridge.issuer, headers);
        assert.equal(res.status, 400, 'the engine answers while the budget lasts');
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
      }
      await assertOAuth429(await badCodeRedemption(bridge.issuer, headers));
    });

    it('counts a path spelled as the engine still routes it (any letter case, a trailing slash) against the same budget', async () => {
      const headers = from(freshAddress(), { authorization: basic('web', 'web-secret') });
      const answers: string[] = [];
      for (const path of ['/TOKEN', '/Token/', '/token/', '/token']) {
        const res = await postForm(
          `${bridge.issuer}${path}`,
          { grant_type: 'authorization_code', code: 'made-up', redirect_uri: WEB_CB },
          headers,
        );
        answers.push(`${path} ${res.status}`);
      }
      assert.deepEqual(
        answers,
        ['/TOKEN 400', '/Token/ 400', '/token/ 400', '/token 429'],
        'each variant reached the engine and was counted',
      );
      const address = freshAddress();
      for (const path of ['/AUTH', '/auth/', '/Auth']) {
        const query = new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: WEB_CB, state: 's' });
        const res = await fetch(`${bridge.issuer}${path}?${query}`, { headers: from(address), redirect: 'manual' });
        assert.equal(res.status, 303, `${path} is the authorization endpoint`);
      }
      await assertPage429(await authorizationStart(bridge.issuer, from(address, { 'accept-language': 'en' })), 'en');
    });

    it('counts request targets the routers cut down to /token: an absolute-form target, a #fragment', async () => {
      const { host, port } = new URL(bridge.issuer);
      const address = freshAddress();
      const answers: string[] = [];
      for (const target of [`http://${host}/token`, '/token#x', `http://${host}/TOKEN#x`, '/token']) {
        answers.push(`${target} ${await rawTokenRequest(host.split(':')[0]!, Number(port), target, address)}`);
      }
      assert.deepEqual(answers, [`http://${host}/token 400`, '/token#x 400', `http://${host}/TOKEN#x 400`, '/token 429']);
    });

    it('hands the engine the body it read: a public client identified by its form body redeems a code', async () => {
      const rp = await rpFor(bridge, 'cli');
      const { tokens } = await signIn(rp, { redirectUri: 'http://127.0.0.1:8000/cb', pkce: true });
      assert.ok(tokens.id_token);
    });

    it('answers /auth beyond its budget with 429, Retry-After and a page with the page headers', async () => {
      const address = freshAddress();
      for (let i = 0; i < 3; i += 1) assert.equal((await authorizationStart(bridge.issuer, from(address))).status, 303);
      const refused = await authorizationStart(bridge.issuer, from(address, { 'accept-language': 'en' }));
      await assertPage429(refused, 'en');
    });

    it('never limits an allow-listed network, IPv4 or IPv6, and still limits the address next to it', async () => {
      for (const address of ['203.0.113.9', '2001:db8:a:1::9']) {
        for (let i = 0; i < 6; i += 1) {
          assert.equal((await authorizationStart(bridge.issuer, from(address))).status, 303, `${address} #${i + 1}`);
          const token = await badCodeRedemption(bridge.issuer, from(address, { authorization: basic('web', 'web-secret') }));
          assert.equal(token.status, 400, `${address} #${i + 1}`);
        }
      }
      const outside = '203.0.114.9';
      const answers: number[] = [];
      for (let i = 0; i < 4; i += 1) answers.push((await authorizationStart(bridge.issuer, from(outside))).status);
      assert.deepEqual(answers, [303, 303, 303, 429]);
    });

    it('lets a client redeem its code while an attacker elsewhere exhausts the budget of its client id', async () => {
      const attacker = from(freshAddress(), { authorization: basic('web', 'guessed-secret') });
      const attempts: number[] = [];
      for (let i = 0; i < 5; i += 1) attempts.push((await badCodeRedemption(bridge.issuer, attacker)).status);
      assert.deepEqual(attempts, [401, 401, 401, 429, 429]);

      // The real client calls from its own address (no forwarded header: the socket's, 127.0.0.1).
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      assert.ok(tokens.access_token);
    });

    it("runs as a plain function over node's request and response, before any engine, without express", async () => {
      const plain = await listen(
        (req, res) => {
          void bridge.app.rateLimits(req, res).then((answered) => {
            if (!answered) res.end('engine');
          });
        },
        { host: '127.0.0.1', port: 0 },
      );
      try {
        const prefix = new URL(bridge.issuer).pathname.replace(/\/$/, '');
        const answers: string[] = [];
        for (let i = 0; i < 4; i += 1) {
          const res = await postForm(`${plain.url}${prefix}/token`, { grant_type: 'client_credentials', client_id: 'plain' });
          answers.push(`${res.status} ${res.status === 429 ? ((await res.json()) as { error: string }).error : await res.text()}`);
        }
        assert.deepEqual(answers, ['200 engine', '200 engine', '200 engine', '429 temporarily_unavailable']);
      } finally {
        await plain.close();
      }
    });

    it('keys an IPv6 client on its /64, so rotating addresses within it does not renew the budget', async () => {
      const answers: number[] = [];
      for (let i = 1; i <= 4; i += 1) answers.push((await authorizationStart(bridge.issuer, from(`2001:db8:b:1::${i}`))).status);
      assert.deepEqual(answers, [303, 303, 303, 429]);
    });
  });
}

describe('rate limits under an issuer path', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({ issuerPath: '/sso', configPatch: LIMITS });
  });
  after(() => bridge.close());

  it('counts the issuer path in any letter case, as express mounts it', async () => {
    const origin = new URL(bridge.issuer).origin;
    const headers = from(freshAddress(), { authorization: basic('web', 'web-secret') });
    const answers: string[] = [];
    for (const path of ['/SSO/token', '/Sso/Token/', '/sso/token', '/sso/token']) {
      const res = await postForm(`${origin}${path}`, { grant_type: 'authorization_code', code: 'made-up', redirect_uri: WEB_CB }, headers);
      answers.push(`${path} ${res.status}`);
    }
    assert.deepEqual(answers, ['/SSO/token 400', '/Sso/Token/ 400', '/sso/token 400', '/sso/token 429']);
  });
});

describe('rate limits shared by replicas', () => {
  let bridge: OidcIssuerBridge;
  let metrics: Listening;
  before(async () => {
    bridge = await startBridge({ upstream: 'oidc-issuer', store: 'redis', replicas: 2, clients: TEST_CLIENTS, configPatch: LIMITS });
    metrics = await listen(bridge.bridge.metricsHandler, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await metrics.close();
    await bridge.close();
  });

  const refusedSoFar = async (rule: string) => {
    const text = await (await fetch(`${metrics.url}/metrics`)).text();
    return Number(new RegExp(`^oidc_bridge_rate_limited_total\\{rule="${rule}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  };

  it('spends one budget whichever replica answers, and counts each refusal by rule', async () => {
    const headers = from(freshAddress(), { authorization: basic('web', 'web-secret') });
    const before = bridge.served.slice();
    const beforeRefused = await refusedSoFar('token');
    const answers: number[] = [];
    for (let i = 0; i < 4; i += 1) answers.push((await badCodeRedemption(bridge.issuer, headers)).status);
    assert.deepEqual(answers, [400, 400, 400, 429]);
    assert.ok(
      bridge.served.every((n, i) => n > before[i]!),
      'both replicas answered',
    );
    // The load balancer alternates: this replica saw the refusal or the one before it; sum both.
    const perReplica = await Promise.all(bridge.replicas.map((r) => r.metrics.getSingleMetric('oidc_bridge_rate_limited_total')!.get()));
    const total = perReplica.flatMap((m) => m.values.filter((v) => v.labels.rule === 'token')).reduce((sum, v) => sum + v.value, 0);
    assert.equal(total - beforeRefused, 1);
    assert.ok(!(await (await fetch(`${metrics.url}/metrics`)).text()).includes('198.51.100.'), 'no client address in a label');
  });

  it("answers /auth beyond its budget with the bridge's error page, in the language asked for", async () => {
    const address = freshAddress();
    for (let i = 0; i < 3; i += 1) assert.equal((await authorizationStart(bridge.issuer, from(address))).status, 303);
    const en = await assertPage429(await authorizationStart(bridge.issuer, from(address, { 'accept-language': 'en' })), 'en');
    assert.match(en, /Too many sign-in attempts/);
    assert.match(en, /bridge\.css/, 'the look of the other pages');
    const zh = await assertPage429(await authorizationStart(bridge.issuer, from(address, { 'accept-language': 'zh-CN' })), 'zh-CN');
    assert.match(zh, /登录请求过多/);
  });

  it('limits upstream callbacks per address', async () => {
    const address = freshAddress();
    const answers: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${bridge.issuer}/upstream/corp/callback?code=x&state=y`, { headers: from(address), redirect: 'manual' });
      answers.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(answers, [400, 400, 429]);
  });
});

describe('rate limits while Redis is down', () => {
  let redis: RedisServer;
  let bridge: OidcIssuerBridge;
  let metrics: Listening;
  before(async () => {
    redis = await startRedisServer();
    bridge = await startBridge({
      upstream: 'oidc-issuer',
      store: 'redis',
      redisUrl: redis.url,
      clients: TEST_CLIENTS,
      configPatch: LIMITS,
    });
    metrics = await listen(bridge.bridge.metricsHandler, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await metrics.close();
    await bridge.close();
    await redis.stop();
  });

  it('lets requests through uncounted (the routes answer 503 themselves), counts them and logs once', async () => {
    await redis.stop();
    const address = freshAddress();
    for (let i = 0; i < 6; i += 1) {
      const res = await badCodeRedemption(bridge.issuer, from(address, { authorization: basic('web', 'web-secret') }));
      assert.equal(res.status, 503, `request ${i + 1}`);
      assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    }
    const text = await (await fetch(`${metrics.url}/metrics`)).text();
    assert.match(text, /^oidc_bridge_rate_limit_unavailable_total\{rule="token"\} 6$/m);
    assert.match(text, /^oidc_bridge_rate_limited_total\{rule="token"\} 0$/m);
    const warnings = bridge.logs.filter((l) => l.msg.startsWith('rate limits cannot be counted'));
    assert.equal(warnings.length, 1);
  });
});

describe('rateLimits config', () => {
  const base = {
    issuer: 'https://sso.example.test',
    cookieSecrets: ['x'.repeat(32)],
    upstreams: [{ id: 'u', type: 'oidc', issuer: 'https://idp.example.test', clientId: 'c' }],
    clients: [{ client_id: 'c', client_secret: 's', redirect_uris: ['https://rp.example.test/cb'] }],
  };

  it('has defaults that a 5,000-person office behind one address stays under at 9 a.m.', () => {
    const { rateLimits } = configSchema.parse(base);
    assert.equal(rateLimits.enabled, true);
    assert.deepEqual(rateLimits.allowCidrs, []);
    // Everyone signing in to five applications within ten minutes: 2,500 /auth and 500 callbacks a minute.
    assert.ok(rateLimits.authorization.points / (rateLimits.authorization.duration / 60) >= 2 * 2500);
    assert.ok(rateLimits.upstreamCallback.points / (rateLimits.upstreamCallback.duration / 60) >= 2 * 500);
  });

  it('accepts IPv4 and IPv6 CIDR ranges and names a malformed one', () => {
    const ok = configSchema.parse({ ...base, rateLimits: { allowCidrs: ['10.0.0.0/8', '2001:db8::/32'] } });
    assert.deepEqual(ok.rateLimits.allowCidrs, ['10.0.0.0/8', '2001:db8::/32']);
    for (const bad of ['10.0.0.1', '10.0.0.0/33', '2001:db8::/129', 'office/24', '10.0.0.0/ 8']) {
      const result = configSchema.safeParse({ ...base, rateLimits: { allowCidrs: [bad] } });
      assert.equal(result.success, false, bad);
      assert.deepEqual(result.error.issues[0]?.path, ['rateLimits', 'allowCidrs', 0]);
    }
  });
});

describe('limitedAddress', () => {
  it('keeps IPv4 addresses and cuts IPv6 ones to their /64', () => {
    assert.equal(limitedAddress('198.51.100.7'), '198.51.100.7');
    assert.equal(limitedAddress('2001:db8:b:1::4'), '2001:db8:b:1::/64');
    assert.equal(limitedAddress('2001:0db8:000b:0001:ffff::1'), '2001:db8:b:1::/64');
    assert.equal(limitedAddress('::1'), '0:0:0:0::/64');
    assert.equal(limitedAddress('2001:db8::'), '2001:db8:0:0::/64');
  });
});

describe('rate limits on the device flow', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({
      store: 'redis',
      clients: [...TEST_CLIENTS, deviceClient('tv')],
      configPatch: {
        ...LIMITS,
        rateLimits: {
          ...LIMITS.rateLimits,
          deviceAuthorization: { points: 2, duration: '10m' },
          deviceVerification: { points: 2, duration: '10m' },
        },
      },
    });
  });
  after(() => bridge.close());

  it('limits device authorization requests per client and address', async () => {
    const address = freshAddress();
    const answers: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await postForm(`${bridge.issuer}/device/auth`, { client_id: 'tv', scope: 'openid' }, from(address));
      answers.push(res.status);
      if (res.status === 429) await assertOAuth429(res);
      else await res.arrayBuffer();
    }
    assert.deepEqual(answers, [200, 200, 429]);
    // Another address is not affected by the first one's budget.
    const other = await postForm(`${bridge.issuer}/device/auth`, { client_id: 'tv', scope: 'openid' }, from(freshAddress()));
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  });

  it('brakes user-code guessing at the verification form per address, with a page', async () => {
    const address = freshAddress();
    const answers: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      const res = await postForm(`${bridge.issuer}/device`, { xsrf: 'x', user_code: 'BCDF-GHJK' }, from(address));
      answers.push(res.status);
      await res.arrayBuffer();
    }
    assert.ok(
      answers.every((s) => s !== 429 && s < 500),
      `answers before the limit: ${answers.join(',')}`,
    );
    await assertPage429(
      await postForm(`${bridge.issuer}/device`, { xsrf: 'x', user_code: 'BCDF-GHJK' }, from(address, { 'accept-language': 'en' })),
      'en',
    );
  });
});
