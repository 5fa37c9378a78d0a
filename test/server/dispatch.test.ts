/**
 * The dispatcher (src/server/dispatch.ts): discovery and the JWKS from kept bodies with an ETag,
 * new bodies after a provider swap, the engine's routes under an issuer path, and the steps run
 * before the engine (what a rate limit plugs into).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { claimsFor } from '../../src/accounts/claims.js';
import { createProvider } from '../../src/oidc/provider.js';
import { createApp } from '../../src/server/app.js';
import { clientAddressOf } from '../../src/server/dispatch.js';
import { listen } from '../../src/server/listen.js';
import { startBridge, type Bridge } from '../helpers/bridge.js';

describe('published bodies', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({ issuerPath: '/sso' });
  });
  after(() => bridge.close());

  for (const path of ['/.well-known/openid-configuration', '/jwks']) {
    it(`answers ${path} with the engine's body, then from the kept one with an ETag and 304s`, async () => {
      const first = await fetch(`${bridge.issuer}${path}`);
      const body = await first.text();
      assert.equal(first.status, 200);
      const second = await fetch(`${bridge.issuer}${path}`);
      assert.equal(await second.text(), body);
      assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
      assert.equal(second.headers.get('x-frame-options'), 'DENY');
      assert.ok(second.headers.get('x-request-id'));
      const etag = second.headers.get('etag');
      assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
      const again = await fetch(`${bridge.issuer}${path}`, { headers: { 'if-none-match': etag! } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), '');
      const changed = await fetch(`${bridge.issuer}${path}`, { headers: { 'if-none-match': '"something-else"' } });
      assert.equal(changed.status, 200);
    });
  }

  it('names the issuer path in discovery, served directly or kept', async () => {
    for (let i = 0; i < 2; i += 1) {
      const doc = (await (await fetch(`${bridge.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
      assert.equal(doc.issuer, bridge.issuer);
      assert.equal(doc.token_endpoint, `${bridge.issuer}/token`);
      assert.equal(doc.jwks_uri, `${bridge.issuer}/jwks`);
    }
  });

  it('echoes an Origin (CORS) through the engine, never a kept answer for another origin', async () => {
    await fetch(`${bridge.issuer}/jwks`);
    const res = await fetch(`${bridge.issuer}/jwks`, { headers: { origin: 'https://app.example.test' } });
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.test');
  });

  it('publishes the new keys once the provider is swapped', async () => {
    const own = await startBridge();
    try {
      const before = await fetch(`${own.issuer}/jwks`);
      await before.arrayBuffer();
      const kept = await fetch(`${own.issuer}/jwks`);
      const oldTag = kept.headers.get('etag');
      await kept.arrayBuffer();
      const rsa = await generateKeyPair('RS256', { extractable: true });
      const ec = await generateKeyPair('ES256', { extractable: true });
      const jwks = {
        keys: [
          { ...(await exportJWK(rsa.privateKey)), kid: 'swapped', alg: 'RS256', use: 'sig' },
          { ...(await exportJWK(ec.privateKey)), kid: 'swapped-ec', alg: 'ES256', use: 'sig' },
        ],
      };
      own.app.swapProvider(
        createProvider({
          config: own.config,
          store: own.store,
          jwks,
          log: pino({ level: 'silent' }),
          accounts: { get: async (sub) => own.accounts.get(sub) },
          claimsFor,
        }),
      );
      const after = await fetch(`${own.issuer}/jwks`, { headers: { 'if-none-match': oldTag! } });
      assert.equal(after.status, 200);
      assert.deepEqual(
        ((await after.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid),
        ['swapped', 'swapped-ec'],
      );
      const keptAgain = await fetch(`${own.issuer}/jwks`);
      assert.notEqual(keptAgain.headers.get('etag'), oldTag);
      await keptAgain.arrayBuffer();
    } finally {
      await own.close();
    }
  });
});

describe('steps before the engine', () => {
  it('run in order on every request, may answer it, and see the trusted client address', async () => {
    const bridge = await startBridge({ issuerPath: '/sso', configPatch: { trustProxy: { hops: 1 } } });
    const seen: { url: string | undefined; address: string | undefined }[] = [];
    const steps = [
      (req: IncomingMessage) => {
        seen.push({ url: req.url, address: clientAddressOf(req) });
        return false;
      },
      async (req: IncomingMessage, res: ServerResponse) => {
        if (req.url !== '/sso/token') return false;
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":"slow_down"}');
        return true;
      },
    ];
    const { handler } = createApp({
      config: bridge.config,
      provider: bridge.bundle,
      store: bridge.store,
      log: pino({ level: 'silent' }),
      beforeEngine: steps,
    });
    const server = await listen(handler, { host: '127.0.0.1', port: 0 });
    try {
      const limited = await fetch(`${server.url}/sso/token`, { method: 'POST', headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('x-frame-options'), 'DENY');
      assert.ok(limited.headers.get('x-request-id'));
      assert.deepEqual(await limited.json(), { error: 'slow_down' });
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      const discovery = await fetch(`${server.url}/sso/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      await discovery.arrayBuffer();
      assert.deepEqual(seen, [
        { url: '/sso/token', address: '203.0.113.9' },
        { url: '/healthz', address: '127.0.0.1' },
        { url: '/sso/.well-known/openid-configuration', address: '127.0.0.1' },
      ]);
    } finally {
      await server.close();
      await bridge.close();
    }
  });

  it('answer a step that throws with a 500 server_error, without its message', async () => {
    const bridge = await startBridge();
    const { handler } = createApp({
      config: bridge.config,
      provider: bridge.bundle,
      store: bridge.store,
      log: pino({ level: 'silent' }),
      beforeEngine: [
        () => {
          throw new Error('limiter internals');
        },
      ],
    });
    const server = await listen(handler, { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`${server.url}/token`, { method: 'POST' });
      assert.equal(res.status, 500);
      const text = await res.text();
      assert.doesNotMatch(text, /limiter internals/);
      assert.equal((JSON.parse(text) as { error: string }).error, 'server_error');
    } finally {
      await server.close();
      await bridge.close();
    }
  });
});
