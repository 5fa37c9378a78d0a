/**
 * The interaction router in front of the real oidc-provider (test/helpers/bridge.ts), with fake
 * upstreams: the authorization request comes back to the client with a code, or with the error
 * the person chose, through the real interaction cookies and resume URLs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { NextFunction, Request, Response, Router } from 'express';
import { pino } from 'pino';
import { createMembership } from '../../src/accounts/membership.js';
import { createInteractionRouter } from '../../src/interactions/interaction-router.js';
import { RP, startBridge, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { FakeAccounts, FakeRegistry, fakeUpstream, UPSTREAM_AUTHORIZE } from './harness.js';

let bridge: Bridge;
const accounts = new FakeAccounts();
const dingtalk = fakeUpstream('dingtalk', 'dingtalk', { 'zh-CN': '钉钉', en: 'DingTalk' });
let recheckDue = false;

before(async () => {
  const mounted: { inner?: Router } = {};
  bridge = await startBridge({
    issuerPath: '/sso',
    accounts: accounts.accounts,
    needsRecheck: async () => recheckDue,
    configPatch: {
      upstreams: [
        { id: 'dingtalk', type: 'oidc', issuer: 'https://dingtalk.example.test', clientId: 'bridge' },
        { id: 'idaas', type: 'oidc', issuer: 'https://idaas.example.test', clientId: 'bridge' },
      ],
    },
    // The router needs the bridge's config and store, which exist only once it listens.
    interactionsRouter: () =>
      ((req: Request, res: Response, next: NextFunction) => (mounted.inner ? mounted.inner(req, res, next) : next())) as unknown as Router,
  });
  const upstreams = new FakeRegistry([dingtalk, fakeUpstream('idaas', 'oauth2', 'IDaaS')]);
  const log = pino({ level: 'silent' });
  mounted.inner = createInteractionRouter({
    config: bridge.config,
    interactions: bridge.bundle.interactions,
    upstreams,
    accounts,
    membership: createMembership({ accounts, upstreams, store: bridge.store, configs: bridge.config.upstreams, log }),
    store: bridge.store,
    log,
  });
});
after(() => bridge.close());

function authorizeUrl(clientId: string, extra: Record<string, string> = {}): string {
  const redirect = clientId === 'other' ? 'https://other.example.test/cb' : `${RP}/cb`;
  const params = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirect,
    response_type: 'code',
    scope: 'openid profile email',
    state: 'st-1',
    nonce: 'n-1',
    ...extra,
  });
  return `${bridge.issuer}/auth?${params}`;
}

const atClient = (url: URL) => url.origin === RP || url.origin === 'https://other.example.test';
const atUpstream = (url: URL) => url.href.startsWith(UPSTREAM_AUTHORIZE);

/** Runs the authorization request up to the upstream, then comes back from it with `code`. */
async function signIn(browser: Browser, authorize: string, code = 'alice'): Promise<{ url: URL; response: globalThis.Response }> {
  const upstream = await browser.follow(authorize, (url) => atUpstream(url) || atClient(url));
  assert.ok(atUpstream(upstream.url), `expected the upstream, got ${upstream.url.href}`);
  const state = upstream.url.searchParams.get('state')!;
  return browser.follow(`${bridge.issuer}/upstream/dingtalk/callback?state=${state}&code=${code}`, atClient);
}

describe('interactions in front of oidc-provider', () => {
  it('signs in through the named upstream and answers the client with a code (skipConsent client)', async () => {
    const browser = new Browser();
    const { url } = await signIn(browser, authorizeUrl('web', { upstream: 'dingtalk' }));
    assert.equal(url.origin + url.pathname, `${RP}/cb`);
    assert.equal(url.searchParams.get('state'), 'st-1');
    assert.ok(url.searchParams.get('code'), url.href);
    assert.ok(accounts.accounts.has('sub-alice'));
    // The grant comes with the login: from the callback, one resume to the client, no consent interaction.
    const afterCallback = browser.history.slice(browser.history.findIndex((hop) => hop.url.includes('/upstream/dingtalk/callback')));
    assert.deepEqual(
      afterCallback.map((hop) => new URL(hop.url).pathname.replace(/\/auth\/[^/]+$/, '/auth/:uid')),
      ['/sso/upstream/dingtalk/callback', '/sso/auth/:uid'],
    );
  });

  it('asks for consent, and a valid form post gives the client its code', async () => {
    const browser = new Browser();
    const first = await signIn(browser, authorizeUrl('other', { upstream: 'dingtalk' }));
    const consentUrl = first.url;
    assert.match(consentUrl.pathname, /^\/sso\/interaction\/[^/]+$/);
    const html = await first.response.text();
    assert.match(html, /允许 other 访问你的账号？|Allow other to access your account\?/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const posted = await browser.fetch(`${consentUrl.href}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }).toString(),
    });
    assert.equal(posted.status, 303);
    const done = await browser.follow(new URL(posted.headers.get('location')!, consentUrl), atClient);
    assert.equal(done.url.origin, 'https://other.example.test');
    assert.ok(done.url.searchParams.get('code'));
  });

  it('returns access_denied to the client when the person cancels at the upstream', async () => {
    const browser = new Browser();
    const upstream = await browser.follow(authorizeUrl('web', { upstream: 'dingtalk' }), (url) => atUpstream(url) || atClient(url));
    const state = upstream.url.searchParams.get('state')!;
    const { url } = await browser.follow(`${bridge.issuer}/upstream/dingtalk/callback?state=${state}&error=access_denied`, atClient);
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(url.searchParams.get('state'), 'st-1');
  });

  it('returns invalid_request for an upstream the bridge does not have', async () => {
    const { url } = await new Browser().follow(authorizeUrl('web', { upstream: 'github' }), atClient);
    assert.equal(url.searchParams.get('error'), 'invalid_request');
    assert.match(url.searchParams.get('error_description')!, /upstream/);
  });

  it('never completes a login with a callback finished in another browser', async () => {
    const victim = new Browser();
    const upstream = await victim.follow(authorizeUrl('web', { upstream: 'dingtalk' }), (url) => atUpstream(url) || atClient(url));
    const state = upstream.url.searchParams.get('state')!;
    const attacker = await new Browser().fetch(`${bridge.issuer}/upstream/dingtalk/callback?state=${state}&code=mallory`);
    assert.equal(attacker.status, 400);
    assert.ok(!accounts.accounts.has('sub-mallory'));
  });

  it('rechecks a reused session with the upstream instead of a new upstream leg, once', async () => {
    const browser = new Browser();
    await signIn(browser, authorizeUrl('web', { upstream: 'dingtalk' }), 'erin');
    recheckDue = true;
    try {
      const again = await browser.follow(authorizeUrl('web'), (url) => atUpstream(url) || atClient(url));
      assert.equal(again.url.origin, RP, 'no new upstream leg');
      assert.ok(again.url.searchParams.get('code'));
      assert.equal(dingtalk.rechecks, 1);
      assert.deepEqual(accounts.marks.at(-1), { fn: 'markChecked', sub: 'sub-erin' });
    } finally {
      recheckDue = false;
    }
  });
});
