/**
 * An issuer with a path (`http://host/sso`): every route, the interaction pages and the cookies
 * live under it; nothing answers protocol requests at the root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { rpFor, signIn } from '../helpers/oidc-rp.js';

describe('issuer with a path', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({ issuerPath: '/sso' });
  });
  after(() => bridge.close());

  it('serves discovery under the path, with every endpoint under the issuer', async () => {
    assert.equal(bridge.issuer, `${bridge.url}/sso`);
    const res = await fetch(`${bridge.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const discovery = (await res.json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, bridge.issuer);
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'end_session_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
    ]) {
      assert.ok(String(discovery[key]).startsWith(`${bridge.issuer}/`), `${key}: ${String(discovery[key])}`);
    }
    assert.equal((await fetch(`${bridge.issuer}/jwks`)).status, 200);
  });

  it('does not answer protocol routes at the root', async () => {
    for (const path of ['/.well-known/openid-configuration', '/auth', '/jwks', '/interaction/abc']) {
      const res = await fetch(`${bridge.url}${path}`, { headers: { accept: 'application/json' } });
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { error: 'not_found', error_description: 'no such endpoint' });
    }
  });

  it('runs the code flow with every hop and cookie under the path', async () => {
    const browser = new Browser();
    const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { tokens } = await signIn(rp, { redirectUri: `${RP}/cb`, browser, scope: 'openid profile' });
    assert.equal(tokens.claims()!.iss, bridge.issuer);
    for (const hop of browser.history) assert.ok(hop.url.startsWith(`${bridge.issuer}/`), hop.url);
    assert.ok(browser.history.some((h) => h.url.startsWith(`${bridge.issuer}/interaction/`)));
    const cookies = browser.cookies();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) assert.ok(cookie.path.startsWith('/sso'), `${cookie.name} at ${cookie.path}`);
    assert.ok(cookies.some((c) => c.name === '_session' && c.path === '/sso'));
  });

  it('answers health probes at the root and under the path', async () => {
    for (const path of ['/healthz', '/readyz', '/sso/healthz', '/sso/readyz']) {
      const res = await fetch(`${bridge.url}${path}`);
      assert.equal(res.status, 200, path);
    }
  });
});
