/**
 * Property-based fuzzing of every endpoint of one bridge (production wiring, the OIDC double as
 * upstream): malformed, oversized, wrongly encoded and hostile requests to authorize, token,
 * userinfo, introspection, revocation, end-session, the interaction routes (with a live
 * interaction), the upstream callbacks and the health probes. Whatever arrives, the answer is never
 * a 5xx, the process keeps serving, and every error is an OAuth error (JSON with `error`), a
 * redirect, or a page with a heading and no stack trace. Bounded to a few hundred requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startBridge, type OidcIssuerBridge } from '../helpers/bridge.js';
import { hasStackTrace, headingOf } from '../helpers/pages.js';
import { HtmlBrowser } from '../conformance/rp.js';
import { REDIRECT, RP, secretOf, webClient } from '../conformance/op.js';

const RUNS = 250;

/** Parameter names the endpoints read, plus noise. */
const PARAM_NAMES = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'nonce',
  'prompt',
  'max_age',
  'code_challenge',
  'code_challenge_method',
  'upstream',
  'ui_locales',
  'claims',
  'request',
  'request_uri',
  'grant_type',
  'code',
  'code_verifier',
  'refresh_token',
  'token',
  'token_type_hint',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'id_token_hint',
  'post_logout_redirect_uri',
  'logout',
  'xsrf',
  'csrf',
  'authCode',
  'error',
  'error_description',
  'lang',
  '__proto__',
  'constructor',
];

/** Values that have broken parsers before: bad percent-encoding, NULs, markup, JSON, huge ones. */
const hostileValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    '%',
    '%ZZ',
    '%C3%28',
    '%00',
    '\u0000',
    '\uFFFF\uD800',
    '../../../etc/passwd',
    '<script>alert(1)</script>',
    '"><svg onload=alert(1)>',
    '{"a":',
    '[]',
    'null',
    'javascript:alert(1)',
    'https://evil.example.test/cb',
    `${RP}/cb`,
    'openid profile email offline_access',
    'code',
    'S256',
    'plain',
    '-1',
    '1e309',
    'Basic Og==',
  ),
  fc.integer({ min: 1_000, max: 70_000 }).map((n) => 'a'.repeat(n)),
);

/** What a header can carry at all (fetch refuses the rest before sending): printable Latin-1. */
const headerSafe = (v: string) => v.replace(/[^\x20-\x7e\xa0-\xff]/g, '%');

const paramsArb = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.string({ maxLength: 12 })), hostileValue), {
  maxLength: 8,
});

type BodyKind = 'none' | 'form' | 'json' | 'bytes' | 'huge';
interface Body {
  kind: BodyKind;
  params: [string, string][];
  bytes: Uint8Array;
  contentType: string;
}
const bodyArb = fc.record({
  kind: fc.constantFrom<BodyKind>('none', 'form', 'json', 'bytes', 'huge'),
  params: paramsArb,
  bytes: fc.uint8Array({ maxLength: 256 }),
  contentType: fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=latin1',
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    '',
    'application/x-www-form-urlencoded; charset=utf-7',
  ),
});

const headersArb = fc.record(
  {
    accept: fc.constantFrom('text/html', 'application/json', '*/*', '', 'text/html;q=0, application/json;q=0'),
    authorization: fc.oneof(
      fc.constantFrom(
        'Basic',
        'Basic %%%',
        'Basic Og==',
        'Bearer',
        'Bearer \u00ff',
        'DPoP x',
        `Basic ${Buffer.from('fuzz:wrong').toString('base64')}`,
      ),
      hostileValue.map((v) => `Bearer ${headerSafe(v.slice(0, 2000))}`),
    ),
    cookie: fc.oneof(
      fc.constantFrom('_session=x', '_interaction=%zz', '_session.legacy=; _session.sig=bad', '=;=;'),
      hostileValue.map((v) => `_session=${headerSafe(v.slice(0, 2000))}`),
    ),
    'accept-language': fc.constantFrom('zh-CN', 'en;q=abc', '*', '\u00ff', 'x'.repeat(500)),
    'x-forwarded-for': fc.constantFrom('1.2.3.4', 'not-an-ip', '::1, ::1, ::1'),
  },
  { requiredKeys: [] },
);

describe('fuzzing every endpoint', () => {
  let op: OidcIssuerBridge;
  let paths: string[];
  before(async () => {
    op = await startBridge({
      upstream: 'oidc-issuer',
      clients: [
        webClient('fuzz', { upstreams: ['corp', 'backup'], skipConsent: false }),
        {
          client_id: 'fuzz-cli',
          token_endpoint_auth_method: 'none',
          application_type: 'native',
          redirect_uris: ['http://127.0.0.1:8000/cb'],
          grant_types: ['authorization_code', 'refresh_token'],
        },
      ],
    });
    // A live interaction, so its routes answer more than "expired".
    const browser = new HtmlBrowser();
    const start = `${op.issuer}/auth?${new URLSearchParams({ client_id: 'fuzz', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 's' })}`;
    const { url } = await browser.follow(start, (u) => u.origin === RP);
    const interaction = url.pathname;
    assert.match(interaction, /\/interaction\/[^/]+$/);
    paths = [
      '/auth',
      '/token',
      '/me',
      '/token/introspection',
      '/token/revocation',
      '/session/end',
      '/session/end/confirm',
      '/session/end/success',
      '/jwks',
      '/.well-known/openid-configuration',
      interaction,
      `${interaction}/consent`,
      `${interaction}/abort`,
      `${interaction}/upstream/corp`,
      `${interaction}/upstream/%00`,
      '/interaction/unknown-uid',
      '/interaction/unknown-uid/consent',
      '/upstream/corp/callback',
      '/upstream/backup/callback',
      '/upstream/nope/callback',
      '/healthz',
      '/readyz',
      '/assets/x.css',
      '/%',
      '/auth/%E0%A4%A',
    ];
  });
  after(() => op.close());

  async function send(method: string, path: string, query: [string, string][], body: Body, headers: Record<string, string>) {
    const url = new URL(`${op.url}${path}`);
    for (const [k, v] of query) url.searchParams.append(k, v);
    const init: RequestInit = { method, headers: { ...headers }, redirect: 'manual' };
    if (method === 'POST') {
      const b = body;
      if (b.contentType) (init.headers as Record<string, string>)['content-type'] = b.contentType;
      if (b.kind === 'form') init.body = new URLSearchParams(b.params).toString();
      if (b.kind === 'json') init.body = JSON.stringify(Object.fromEntries(b.params));
      if (b.kind === 'bytes') init.body = b.bytes;
      if (b.kind === 'huge') init.body = `token=${'x'.repeat(300_000)}`;
    }
    return fetch(url, init);
  }

  it(
    `answers ${RUNS} hostile requests without a 5xx, each with a spec error, a redirect or a clear page`,
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'),
          fc.nat({ max: 1000 }),
          paramsArb,
          bodyArb,
          headersArb,
          async (method, pathIndex, query, body, headers) => {
            const path = paths[pathIndex % paths.length]!;
            const res = await send(method, path, query, body, headers);
            const text = method === 'HEAD' ? '' : await res.text();
            const what = `${method} ${path} → ${res.status}`;
            assert.ok(res.status < 500, `${what}: ${text.slice(0, 300)}`);
            if (res.status < 400 || method === 'HEAD') return;
            const type = res.headers.get('content-type') ?? '';
            if (type.includes('application/json')) {
              const parsed = JSON.parse(text) as { error?: unknown };
              assert.equal(typeof parsed.error, 'string', `${what}: an OAuth error`);
            } else if (type.includes('text/html')) {
              assert.ok(headingOf(text).length > 0, `${what}: a page that says what went wrong`);
            } else if (res.status === 431 && text === '') {
              // Node's HTTP parser refuses a request line or headers over its limit before the bridge sees it.
            } else if (res.status === 404 || res.status === 405) {
              // oidc-provider answers a method its routes do not take (PUT /auth) with a plain "Not Found".
              assert.ok(text.length > 0 && text.length < 200, `${what}: a short plain answer`);
            } else {
              assert.fail(`${what}: neither an OAuth error nor a page (${type}): ${text.slice(0, 200)}`);
            }
            assert.ok(!hasStackTrace(text), `${what}: no stack trace`);
            assert.ok(!text.includes(secretOf('fuzz')), `${what}: no secret`);
          },
        ),
        { numRuns: RUNS },
      );
      const health = await fetch(`${op.url}/healthz`);
      assert.equal(health.status, 200, 'still serving');
      const discovery = await fetch(`${op.issuer}/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
    },
  );
});
