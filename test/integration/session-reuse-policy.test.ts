// A reused browser session through the whole bridge: it never answers for a client that does not
// allow the upstream the account came through, and a silent membership recheck keeps the time the
// person actually authenticated (`auth_time`, which relying parties compare with `max_age`).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sampleUserids } from '../../src/sandbox/index.js';
import { Browser } from '../helpers/http-browser.js';
import { startBridge, type DingTalkBridge, type DoublesBridge } from '../helpers/bridge.js';
import { authorizeCount, exchange, ksRedirect, login, relyingParty, webRedirect } from '../helpers/upstream-login.js';

/** Whole-second clocks (auth_time): waits until the clock is past `epochSeconds`. A wait for time, not readiness. */
async function clockPast(epochSeconds: number): Promise<void> {
  const ms = (epochSeconds + 1) * 1000 - Date.now();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms + 5));
}

describe("a session from an upstream the client does not allow (the client's `upstreams`)", () => {
  let bridge: DoublesBridge;
  before(async () => {
    bridge = await startBridge({ upstream: 'doubles', store: 'redis' });
  });
  after(() => bridge?.close());

  /** Signs in to web-oidc (upstreams oidc, idaas) through `oidc`: the browser now has an oidc session. */
  async function oidcSession(): Promise<{ browser: Browser; sub: string }> {
    const rp = await relyingParty(bridge.issuer, 'web-oidc', 'basic');
    const browser = new Browser();
    const tokens = await exchange(rp, await login(rp, { redirectUri: webRedirect('oidc'), browser, extra: { upstream: 'oidc' } }));
    return { browser, sub: tokens.claims()!.sub };
  }

  it('is not reused: the client limited to idaas sends the person to idaas', async () => {
    const { browser, sub } = await oidcSession();
    const ks = await relyingParty(bridge.issuer, 'ks-idaas', 'basic');
    const before = authorizeCount(bridge.doubles, 'idaas');
    const leg = await login(ks, { redirectUri: ksRedirect('idaas'), browser, state: 'idaas' });
    assert.equal(authorizeCount(bridge.doubles, 'idaas'), before + 1, 'a fresh login at the allowed upstream');
    const claims = (await exchange(ks, leg)).claims()!;
    assert.notEqual(claims.sub, sub, "the oidc account never gets the idaas-only client's tokens");
  });

  it('answers login_required under prompt=none', async () => {
    const { browser } = await oidcSession();
    const ks = await relyingParty(bridge.issuer, 'ks-idaas', 'basic');
    const before = authorizeCount(bridge.doubles, 'idaas');
    const leg = await login(ks, { redirectUri: ksRedirect('idaas'), browser, state: 'idaas', extra: { prompt: 'none' } });
    assert.equal(leg.callback.searchParams.get('error'), 'login_required');
    assert.equal(leg.callback.searchParams.get('code'), null);
    assert.equal(authorizeCount(bridge.doubles, 'idaas'), before, 'no upstream asked');
  });

  it('is still reused by a client that allows its upstream', async () => {
    const { browser, sub } = await oidcSession();
    const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
    const before = authorizeCount(bridge.doubles, 'oidc') + authorizeCount(bridge.doubles, 'idaas');
    const leg = await login(rp, { redirectUri: webRedirect('idaas'), browser });
    assert.equal(authorizeCount(bridge.doubles, 'oidc') + authorizeCount(bridge.doubles, 'idaas'), before);
    assert.equal((await exchange(rp, leg)).claims()!.sub, sub);
  });
});

describe('the silent membership recheck of a reused session', () => {
  let bridge: DingTalkBridge;
  before(async () => {
    // recheckAfter 0: every reuse of a session asks DingTalk again.
    bridge = await startBridge({ upstream: 'dingtalk', store: 'memory', dingtalk: { recheckAfter: 0 } });
  });
  after(() => bridge?.close());

  it('keeps auth_time: the person authenticated at the first login, not at the recheck', async () => {
    const browser = new Browser();
    // max_age makes oidc-provider put auth_time in the ID token.
    const first = await bridge.loginAs(sampleUserids.wangFangPlatform, 'kubesphere', { browser, extra: { max_age: '86400' } });
    const firstClaims = (await bridge.tokens(first)).claims()!;
    assert.equal(typeof firstClaims.auth_time, 'number');
    await clockPast(firstClaims.auth_time!);
    const again = await bridge.loginAs(sampleUserids.wangFangPlatform, 'kubesphere', { browser, extra: { max_age: '86400' } });
    assert.equal(again.upstreamLeg, false, 'the session was reused after the recheck');
    const claims = (await bridge.tokens(again)).claims()!;
    assert.equal(claims.auth_time, firstClaims.auth_time);
  });
});
