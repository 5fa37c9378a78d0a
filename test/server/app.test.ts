/**
 * The express assembly: security headers, probes, proxy trust, error mapping, cookies over plain
 * http, swapping the provider at run time, store health logging and listen().
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Router } from 'express';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { claimsFor } from '../../src/accounts/claims.js';
import { createProvider, type ProviderBundle } from '../../src/oidc/provider.js';
import { createApp } from '../../src/server/app.js';
import { publicErrorOf, statusOf } from '../../src/server/error-handler.js';
import { listen } from '../../src/server/listen.js';
import { metricsHandler } from '../../src/server/metrics.js';
import { StoreUnavailableError, type Store, type StoreHealth } from '../../src/store/types.js';
import { autoLoginRouter } from '../helpers/auto-login.js';
import { ALICE, startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { rpFor, signIn } from '../helpers/oidc-rp.js';

const SECURITY_HEADERS = {
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function assertSecurityHeaders(res: Response, what: string) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(res.headers.get(name), value, `${name} on ${what}`);
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
}

/** Extra test routes next to the auto-login ones: echo what express and the error handler see. */
function probeRouter(bridgeRouter: Router): Router {
  const router = Router();
  router.get('/test/ip', (req, res) => {
    res.json({ ip: req.ip, protocol: req.protocol });
  });
  router.get('/test/crash', () => {
    throw new Error('secret internal detail');
  });
  router.get('/test/teapot', () => {
    throw Object.assign(new Error('short and stout'), { status: 418, expose: true });
  });
  router.get('/test/store-down', () => {
    throw new StoreUnavailableError();
  });
  router.use(bridgeRouter);
  return router;
}

describe('express app', () => {
  let bridge: Bridge;
  let proxied: Bridge;
  before(async () => {
    const withProbes = (b: ProviderBundle) => probeRouter(autoLoginRouter(b.interactions, { accountId: () => ALICE.sub }));
    bridge = await startBridge({ interactionsRouter: withProbes });
    proxied = await startBridge({ interactionsRouter: withProbes, configPatch: { trustProxy: { hops: 1 } } });
  });
  after(async () => {
    await bridge.close();
    await proxied.close();
  });

  it('sets the security headers on provider, probe, page and error responses', async () => {
    for (const path of ['/.well-known/openid-configuration', '/healthz', '/test/crash', '/no/such/path', '/auth']) {
      assertSecurityHeaders(await fetch(`${bridge.issuer}${path}`, { redirect: 'manual' }), path);
    }
  });

  it('reports ready until shutting down, and healthy throughout', async () => {
    const own = await startBridge();
    try {
      assert.deepEqual(await (await fetch(`${own.url}/readyz`)).json(), { status: 'ready' });
      own.app.setShuttingDown();
      const readyz = await fetch(`${own.url}/readyz`);
      assert.equal(readyz.status, 503);
      assert.deepEqual(await readyz.json(), { status: 'shutting_down' });
      assert.equal((await fetch(`${own.url}/healthz`)).status, 200);
    } finally {
      await own.close();
    }
  });

  it('trusts X-Forwarded-For only from configured proxies', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };
    const direct = (await (await fetch(`${bridge.issuer}/test/ip`, { headers })).json()) as { ip: string; protocol: string };
    assert.equal(direct.ip, '127.0.0.1');
    assert.equal(direct.protocol, 'http');
    const behind = (await (await fetch(`${proxied.issuer}/test/ip`, { headers })).json()) as { ip: string };
    assert.equal(behind.ip, '203.0.113.7');
  });

  it('maps errors: 500 without internals, an exposed 4xx as is, a store outage as 503; JSON or HTML as asked', async () => {
    const crash = await fetch(`${bridge.issuer}/test/crash`, { headers: { accept: 'application/json' } });
    assert.equal(crash.status, 500);
    assert.deepEqual(await crash.json(), { error: 'server_error', error_description: 'something went wrong' });
    const page = await fetch(`${bridge.issuer}/test/crash`, { headers: { accept: 'text/html' } });
    const html = await page.text();
    assert.match(page.headers.get('content-type') ?? '', /html/);
    assert.doesNotMatch(html, /secret internal detail|\.ts:\d+/);
    // The pages' own policy, not only the policy every response gets.
    assert.match(page.headers.get('content-security-policy') ?? '', /^default-src 'none'; style-src 'self';/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const teapot = await fetch(`${bridge.issuer}/test/teapot`, { headers: { accept: 'application/json' } });
    assert.equal(teapot.status, 418);
    assert.deepEqual(await teapot.json(), { error: 'invalid_request', error_description: 'short and stout' });
    const down = await fetch(`${bridge.issuer}/test/store-down`, { headers: { accept: 'application/json' } });
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { error: string }).error, 'temporarily_unavailable');
  });

  it('classifies errors without trusting odd status values', () => {
    assert.equal(statusOf(new StoreUnavailableError()), 503);
    assert.equal(statusOf(Object.assign(new Error('x'), { statusCode: 401 })), 401);
    assert.equal(statusOf(Object.assign(new Error('x'), { status: 302 })), 500);
    assert.equal(statusOf('a string'), 500);
    assert.deepEqual(publicErrorOf(Object.assign(new Error('db password is hunter2'), { status: 500 }), 500), {
      error: 'server_error',
      error_description: 'something went wrong',
    });
    assert.deepEqual(publicErrorOf({ status: 400, error: 'invalid_grant', error_description: 'nope', expose: true }, 400), {
      error: 'invalid_grant',
      error_description: 'nope',
    });
  });

  it('sends only Lax cookies over plain http, whatever X-Forwarded-Proto claims', async () => {
    const browser = new Browser();
    const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    await signIn(rp, { redirectUri: `${RP}/cb`, browser });
    const setCookies = browser.history.flatMap((h) => h.setCookies);
    assert.ok(setCookies.some((c) => c.startsWith('_session=')));
    for (const cookie of setCookies) {
      assert.match(cookie, /samesite=lax/i, cookie);
      assert.doesNotMatch(cookie, /samesite=none|;\s*secure/i, cookie);
    }
  });

  it('swaps the provider at run time (new signing keys)', async () => {
    const own = await startBridge();
    try {
      const rsa = await generateKeyPair('RS256', { extractable: true });
      const ec = await generateKeyPair('ES256', { extractable: true });
      const jwks = {
        keys: [
          { ...(await exportJWK(rsa.privateKey)), kid: 'rotated', alg: 'RS256', use: 'sig' },
          { ...(await exportJWK(ec.privateKey)), kid: 'rotated-ec', alg: 'ES256', use: 'sig' },
        ],
      };
      const next = createProvider({
        config: own.config,
        store: own.store,
        jwks,
        log: pino({ level: 'silent' }),
        accounts: { get: async (sub) => own.accounts.get(sub) },
        claimsFor,
      });
      own.app.swapProvider(next);
      const published = (await (await fetch(`${own.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
      assert.deepEqual(
        published.keys.map((k) => k.kid),
        ['rotated', 'rotated-ec'],
      );
      const { tokens } = await signIn(await rpFor(own, 'web', { secret: 'web-secret' }), { redirectUri: `${RP}/cb` });
      assert.equal(decodeProtectedHeader(tokens.id_token!).kid, 'rotated');
    } finally {
      await own.close();
    }
  });
});

describe('extra routes', () => {
  it('mounts them at their own path, with the same headers and error handling', async () => {
    const bridge = await startBridge({ issuerPath: '/sso' });
    try {
      const router = Router();
      router.get('/hello', (_req, res) => {
        res.json({ hello: 'sandbox' });
      });
      router.get('/boom', () => {
        throw new Error('inner');
      });
      const { handler } = createApp({
        config: bridge.config,
        provider: bridge.bundle,
        store: bridge.store,
        log: pino({ level: 'silent' }),
        extraRoutes: [{ path: '/sandbox', router }],
      });
      const server = await listen(handler, { host: '127.0.0.1', port: 0 });
      try {
        const hello = await fetch(`${server.url}/sandbox/hello`);
        assert.deepEqual(await hello.json(), { hello: 'sandbox' });
        assertSecurityHeaders(hello, '/sandbox/hello');
        const boom = await fetch(`${server.url}/sandbox/boom`, { headers: { accept: 'application/json' } });
        assert.equal(boom.status, 500);
        assert.equal(((await boom.json()) as { error: string }).error, 'server_error');
      } finally {
        await server.close();
      }
    } finally {
      await bridge.close();
    }
  });
});

describe('store health', () => {
  it('logs every change as a JSON line and exposes a gauge', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const listeners: ((h: StoreHealth) => void)[] = [];
    let health: StoreHealth = 'up';
    const bridge = await startBridge();
    try {
      const store = {
        ...bridge.store,
        kind: 'redis',
        health: () => health,
        onHealthChange: (l: (h: StoreHealth) => void) => listeners.push(l),
      } as Store;
      const registry = new Registry();
      createApp({ config: bridge.config, provider: bridge.bundle, store, log: pino(sink), metricsRegistry: registry });
      health = 'down';
      listeners.forEach((l) => l('down'));
      assert.deepEqual(
        lines.map((l) => [l.health, l.store]),
        [['down', 'redis']],
      );
      const server = await listen(metricsHandler(registry), { host: '127.0.0.1', port: 0 });
      try {
        assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^oidc_bridge_store_up 0$/m);
      } finally {
        await server.close();
      }
    } finally {
      await bridge.close();
    }
  });
});

describe('listen', () => {
  it('rejects when the port is taken instead of running without listening', async () => {
    const first = await listen((_req, res) => res.end(), { host: '127.0.0.1', port: 0 });
    try {
      const port = Number(new URL(first.url).port);
      await assert.rejects(
        listen((_req, res) => res.end(), { host: '127.0.0.1', port }),
        { code: 'EADDRINUSE' },
      );
    } finally {
      await first.close();
    }
  });

  it('closes with open keep-alive connections', async () => {
    const server = await listen((_req, res) => res.end('ok'), { host: '127.0.0.1', port: 0 });
    assert.equal(await (await fetch(server.url)).text(), 'ok');
    await server.close({ graceMs: 100 });
    await assert.rejects(fetch(server.url));
  });
});
