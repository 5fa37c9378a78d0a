/**
 * Hostile and broken requests at every endpoint get the error the specs define (400/401/404 with
 * an OAuth error as JSON, a redirect to the client, or an error page): never a 500, never a stack.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { basic } from '../helpers/oidc-rp.js';

interface Case {
  name: string;
  path: string;
  init?: RequestInit;
  status: number;
  /** OAuth error code: in the JSON body, or in the redirect's query for redirects. */
  error?: string;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_ACCEPT = { accept: 'application/json' };
const HTML = { accept: 'text/html' };
const WEB = basic('web', 'web-secret');
const form = (body: Record<string, string> | string, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { ...FORM, ...JSON_ACCEPT, ...headers },
  body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
});
const auth = (params: Record<string, string>) => `/auth?${new URLSearchParams(params).toString()}`;
const good = { client_id: 'web', redirect_uri: `${RP}/cb`, response_type: 'code', scope: 'openid', state: 's' };

const CASES: Case[] = [
  {
    name: 'auth without client_id',
    path: auth({ response_type: 'code', scope: 'openid' }),
    init: { headers: HTML },
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'auth with an unknown client',
    path: auth({ ...good, client_id: 'nobody' }),
    init: { headers: HTML },
    status: 400,
    error: 'invalid_client',
  },
  {
    name: 'auth with an unregistered redirect_uri',
    path: auth({ ...good, redirect_uri: 'https://evil.example/cb' }),
    init: { headers: HTML },
    status: 400,
    error: 'invalid_redirect_uri',
  },
  {
    name: 'auth with response_type token',
    path: auth({ ...good, response_type: 'token' }),
    status: 303,
    error: 'unsupported_response_type',
  },
  {
    name: 'auth without response_type',
    path: auth({ client_id: 'web', redirect_uri: `${RP}/cb`, scope: 'openid' }),
    status: 303,
    error: 'invalid_request',
  },
  { name: 'auth with prompt=none and no session', path: auth({ ...good, prompt: 'none' }), status: 303, error: 'login_required' },
  {
    name: 'auth with PKCE method plain',
    path: auth({ ...good, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }),
    status: 303,
    error: 'invalid_request',
  },
  {
    name: 'auth with prompt=none combined with login',
    path: auth({ ...good, prompt: 'none login' }),
    status: 303,
    error: 'invalid_request',
  },
  {
    name: 'auth POST with a JSON body',
    path: '/auth',
    init: { method: 'POST', headers: { 'content-type': 'application/json', ...HTML }, body: '{}' },
    status: 400,
    error: 'invalid_request',
  },
  { name: 'resume without its cookie', path: '/auth/abcdefghijklmnop', init: { headers: HTML }, status: 400, error: 'invalid_request' },
  { name: 'token without grant_type', path: '/token', init: form({}, { authorization: WEB }), status: 400, error: 'invalid_request' },
  {
    name: 'token with an unknown grant_type',
    path: '/token',
    init: form({ grant_type: 'password', username: 'a', password: 'b' }, { authorization: WEB }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'token with grant_type twice',
    path: '/token',
    init: form('grant_type=authorization_code&grant_type=refresh_token', { authorization: WEB }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token with a wrong secret',
    path: '/token',
    init: form({ grant_type: 'authorization_code', code: 'x', redirect_uri: `${RP}/cb` }, { authorization: basic('web', 'wrong') }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'token for an unknown client',
    path: '/token',
    init: form({ grant_type: 'authorization_code', code: 'x', redirect_uri: `${RP}/cb` }, { authorization: basic('nobody', 'x') }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'token without client authentication',
    path: '/token',
    init: form({ grant_type: 'authorization_code', code: 'x', redirect_uri: `${RP}/cb` }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token with a malformed Basic header',
    path: '/token',
    init: form({ grant_type: 'authorization_code', code: 'x' }, { authorization: 'Basic !!!' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token with an unknown code',
    path: '/token',
    init: form({ grant_type: 'authorization_code', code: 'nope', redirect_uri: `${RP}/cb` }, { authorization: WEB }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'token with an unknown refresh token',
    path: '/token',
    init: form({ grant_type: 'refresh_token', refresh_token: 'nope' }, { authorization: WEB }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'token with a JSON body',
    path: '/token',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: WEB, ...JSON_ACCEPT },
      body: '{"grant_type":"refresh_token"}',
    },
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token with a garbage body',
    path: '/token',
    init: form('%%%\u0000\uffff&&&==', { authorization: WEB }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token with an oversized body',
    path: '/token',
    init: form({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(70_000) }, { authorization: WEB }),
    status: 400,
    error: 'invalid_request',
  },
  { name: 'token with GET', path: '/token', init: { headers: JSON_ACCEPT }, status: 404 },
  { name: 'userinfo without a token', path: '/me', init: { headers: JSON_ACCEPT }, status: 401, error: 'invalid_token' },
  {
    name: 'userinfo with a bad token',
    path: '/me',
    init: { headers: { authorization: 'Bearer not-a-token', ...JSON_ACCEPT } },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'userinfo with a non-Bearer scheme',
    path: '/me',
    init: { headers: { authorization: 'Basic abc', ...JSON_ACCEPT } },
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'introspection unauthenticated',
    path: '/token/introspection',
    init: form({ token: 'x' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'introspection with a wrong secret',
    path: '/token/introspection',
    init: form({ token: 'x' }, { authorization: basic('rs', 'wrong') }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'introspection without a token',
    path: '/token/introspection',
    init: form({}, { authorization: WEB }),
    status: 400,
    error: 'invalid_request',
  },
  { name: 'revocation unauthenticated', path: '/token/revocation', init: form({ token: 'x' }), status: 400, error: 'invalid_request' },
  {
    name: 'revocation with a wrong secret',
    path: '/token/revocation',
    init: form({ token: 'x' }, { authorization: basic('web', 'nope') }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'logout with a bad id_token_hint',
    path: '/session/end?id_token_hint=abc.def.ghi',
    init: { headers: HTML },
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'logout to an unregistered post_logout_redirect_uri',
    path: `/session/end?client_id=web&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
    init: { headers: HTML },
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'logout confirm without xsrf',
    path: '/session/end/confirm',
    init: form({ logout: 'yes' }, HTML),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'an unknown interaction',
    path: '/interaction/doesnotexist',
    init: { headers: JSON_ACCEPT },
    status: 400,
    error: 'invalid_request',
  },
  { name: 'an unknown path', path: '/no/such/thing', init: { headers: JSON_ACCEPT }, status: 404, error: 'not_found' },
  // A method oidc-provider does not serve on one of its paths: the JSON error, not Koa's plain text.
  { name: 'PUT /auth', path: auth(good), init: { method: 'PUT', headers: JSON_ACCEPT }, status: 404, error: 'not_found' },
  {
    name: 'DELETE /token',
    path: '/token',
    init: { method: 'DELETE', headers: { ...JSON_ACCEPT, authorization: WEB } },
    status: 404,
    error: 'not_found',
  },
  { name: 'PATCH /jwks', path: '/jwks', init: { method: 'PATCH', headers: JSON_ACCEPT }, status: 404, error: 'not_found' },
  {
    name: 'PUT /token/revocation',
    path: '/token/revocation',
    init: { ...form({ token: 'x' }, { authorization: WEB }), method: 'PUT' },
    status: 404,
    error: 'not_found',
  },
  {
    name: 'POST to discovery',
    path: '/.well-known/openid-configuration',
    init: form({ a: 'b' }),
    status: 404,
    error: 'not_found',
  },
  // A browser gets the page instead.
  { name: 'DELETE /auth from a browser', path: auth(good), init: { method: 'DELETE', headers: HTML }, status: 404, error: 'not_found' },
];

const STACK = /\n\s+at .+:\d+:\d+|node_modules|\.(?:js|ts):\d+/;

for (const kind of ['memory', 'redis'] as const) {
  describe(`malformed requests on the ${kind} store`, () => {
    let bridge: Bridge;
    before(async () => {
      bridge = await startBridge({ store: kind });
    });
    after(() => bridge.close());

    for (const c of CASES) {
      it(`${c.name} → ${c.status}${c.error ? ` ${c.error}` : ''}`, async () => {
        const res = await fetch(`${bridge.issuer}${c.path}`, { redirect: 'manual', ...c.init });
        const body = await res.text();
        assert.equal(res.status, c.status, body.slice(0, 300));
        assert.doesNotMatch(body, STACK);
        if (!c.error) return;
        if (c.status === 303) {
          const location = new URL(res.headers.get('location')!);
          // response_type=token answers in the fragment (its default response mode), code in the query.
          const params = location.hash ? new URLSearchParams(location.hash.slice(1)) : location.searchParams;
          assert.equal(params.get('error'), c.error);
          assert.equal(params.get('iss'), bridge.issuer);
        } else if ((res.headers.get('content-type') ?? '').includes('json')) {
          assert.equal((JSON.parse(body) as { error: string }).error, c.error);
        } else {
          assert.ok(body.includes(c.error), `error page names ${c.error}: ${body.slice(0, 300)}`);
        }
      });
    }
  });
}
