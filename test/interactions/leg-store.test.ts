import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { createLegStore, type UpstreamLegs } from '../../src/interactions/leg-store.js';
import { createPaths } from '../../src/interactions/paths.js';
import { openMemoryStore, type MemoryStore } from '../../src/store/memory.js';
import { LegStateError } from '../../src/upstreams/types.js';
import { Browser } from '../helpers/http-browser.js';

let server: Server;
let base: string;
let store: MemoryStore;
let clock = 1_000_000;
const legs = new Map<string, UpstreamLegs>();

before(async () => {
  store = openMemoryStore({ now: () => clock * 1000, sweepIntervalMs: 3_600_000 });
  const paths = createPaths('http://127.0.0.1/sso');
  for (const id of ['idp', 'other'])
    legs.set(id, createLegStore({ records: store.ephemeral, upstreamId: id, paths, maxTtlSeconds: 600, now: () => clock }));
  const app = express();
  app.get('/sso/start/:id/:uid', async (req, res) => {
    const leg = legs.get(req.params.id)!;
    leg.prepare(req, { uid: req.params.uid, expiresAt: clock + Number(req.query.life ?? 300), locale: 'en' });
    try {
      res.json({ state: await leg.begin(req, { codeVerifier: 'verifier-1', nonce: 'nonce-1' }) });
    } catch (err) {
      res.status(400).json({ reason: (err as LegStateError).reason });
    }
  });
  app.get('/sso/upstream/:id/callback', async (req, res) => {
    const leg = legs.get(req.params.id)!;
    try {
      const secrets = await leg.finish(req, req.query.state as string | undefined);
      res.json({ secrets, leg: leg.finished(req) });
    } catch (err) {
      assert.ok(err instanceof LegStateError);
      res.status(400).json({ reason: err.reason, finished: leg.finished(req) ?? null });
    }
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sso`;
});
after(async () => {
  await store.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function start(browser: Browser, uid: string, id = 'idp', life = 300) {
  const response = await browser.fetch(`${base}/start/${id}/${uid}?life=${life}`);
  return { response, body: (await response.json()) as { state: string; reason?: string } };
}

async function callback(browser: Browser, state: string | undefined, id = 'idp') {
  const query = state === undefined ? '' : `?state=${encodeURIComponent(state)}`;
  const response = await browser.fetch(`${base}/upstream/${id}/callback${query}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('leg store', () => {
  it('binds the leg with an HttpOnly, SameSite=Lax cookie scoped to the callback path', async () => {
    const { response, body } = await start(new Browser(), 'uid-cookie');
    assert.match(body.state, /^[A-Za-z0-9_-]{43}$/);
    const [cookie] = response.headers.getSetCookie();
    assert.ok(cookie, 'a binding cookie is set');
    assert.match(cookie, /^oidcb_leg_[A-Za-z0-9_-]{16}=[A-Za-z0-9_-]{43}; /);
    assert.match(cookie, /; Path=\/sso\/upstream\/idp\/callback;/);
    assert.match(cookie, /; Max-Age=300;/);
    assert.match(cookie, /; HttpOnly; SameSite=Lax$/);
    assert.doesNotMatch(cookie, /Secure/);
  });

  it('finishes once in the browser that started it, then refuses the replay', async () => {
    const browser = new Browser();
    const { body } = await start(browser, 'uid-1');
    const first = await callback(browser, body.state);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, {
      secrets: { codeVerifier: 'verifier-1', nonce: 'nonce-1' },
      leg: { uid: 'uid-1', upstream: 'idp', locale: 'en' },
    });
    const replay = await callback(browser, body.state);
    assert.deepEqual(replay.body, { reason: 'unknown', finished: null });
  });

  it('refuses another browser, without burning the real browser’s leg', async () => {
    const owner = new Browser();
    const { body } = await start(owner, 'uid-2');
    const stranger = await callback(new Browser(), body.state);
    assert.deepEqual(stranger.body, { reason: 'other_browser', finished: null });
    // A binding cookie of another leg is no better than none.
    const other = new Browser();
    await start(other, 'uid-x');
    const swapped = await other.fetch(`${base}/upstream/idp/callback?state=${body.state}`, {
      headers: { cookie: owner.cookieHeader(new URL(`${base}/upstream/idp/callback`)).replace(/=[^;]+/, '=forged-value') },
    });
    assert.equal(((await swapped.json()) as { reason: string }).reason, 'other_browser');
    const real = await callback(owner, body.state);
    assert.equal(real.status, 200);
  });

  it('keeps two legs of one browser apart (two tabs)', async () => {
    const browser = new Browser();
    const a = await start(browser, 'tab-a');
    const b = await start(browser, 'tab-b');
    assert.equal(((await callback(browser, b.body.state)).body.leg as { uid: string }).uid, 'tab-b');
    assert.equal(((await callback(browser, a.body.state)).body.leg as { uid: string }).uid, 'tab-a');
  });

  it('expires with the interaction', async () => {
    const browser = new Browser();
    const { response, body } = await start(browser, 'uid-3', 'idp', 120);
    assert.match(response.headers.getSetCookie()[0]!, /; Max-Age=120;/);
    clock += 121;
    const late = await callback(browser, body.state);
    assert.equal(late.status, 400);
    assert.ok(['expired', 'unknown', 'other_browser'].includes(late.body.reason as string), String(late.body.reason));
    assert.equal(late.body.finished, null);
  });

  it('refuses to begin a leg for an interaction that has already expired', async () => {
    const { response, body } = await start(new Browser(), 'uid-dead', 'idp', -1);
    assert.equal(response.status, 400);
    assert.equal(body.reason, 'expired');
  });

  it('refuses a missing or malformed state, and a state of another upstream', async () => {
    const browser = new Browser();
    assert.equal((await callback(browser, undefined)).body.reason, 'missing');
    assert.equal((await callback(browser, '')).body.reason, 'missing');
    assert.equal((await callback(browser, 'short')).body.reason, 'unknown');
    assert.equal((await callback(browser, 'x'.repeat(43))).body.reason, 'unknown');
    const { body } = await start(browser, 'uid-4', 'other');
    assert.equal((await callback(browser, body.state, 'idp')).body.reason, 'unknown');
    assert.equal((await callback(browser, body.state, 'other')).status, 200);
  });

  it('lets exactly one of two racing callbacks win', async () => {
    const browser = new Browser();
    const { body } = await start(browser, 'uid-race');
    const results = await Promise.all([callback(browser, body.state), callback(browser, body.state), callback(browser, body.state)]);
    assert.equal(results.filter((r) => r.status === 200).length, 1);
  });

  it('keeps neither the state nor the binding value in the store', async () => {
    const browser = new Browser();
    const { response, body } = await start(browser, 'uid-5');
    const binding = decodeURIComponent(/=([^;]+)/.exec(response.headers.getSetCookie()[0]!)![1]!);
    const keys = await store.ephemeral.keys('leg:');
    assert.ok(keys.length > 0);
    for (const key of keys) {
      assert.ok(!key.includes(body.state));
      const value = JSON.stringify(await store.ephemeral.get(key));
      assert.ok(!value.includes(body.state) && !value.includes(binding), 'raw state or binding stored');
    }
  });

  it('refuses to begin outside a prepared start request', async () => {
    const leg = legs.get('idp')!;
    const req = { res: { cookie() {} } } as unknown as Request;
    await assert.rejects(leg.begin(req, {}), /begun without prepare\(\)/);
  });

  it('marks the binding cookie Secure when the issuer is https', async () => {
    const leg = createLegStore({
      records: store.ephemeral,
      upstreamId: 'idp',
      paths: createPaths('https://sso.example.test/base'),
      maxTtlSeconds: 600,
      now: () => clock,
    });
    const headers: string[] = [];
    const req = {} as Request;
    req.res = Object.assign(Object.create(express.response) as Response, {
      req,
      append: (_name: string, value: string) => headers.push(value),
    });
    leg.prepare(req, { uid: 'u', expiresAt: clock + 60, locale: 'zh-CN' });
    await leg.begin(req, {});
    assert.match(headers[0]!, /; Max-Age=60; Path=\/base\/upstream\/idp\/callback; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/);
  });
});
