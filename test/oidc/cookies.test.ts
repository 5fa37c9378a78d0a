/**
 * Cookie attributes for an https issuer (TLS ends at a proxy in front): the session cookie is
 * SameSite=None; Secure so it reaches a cross-site POST to /auth; the interaction cookies stay Lax.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';

describe('cookies of an https issuer', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({ httpsIssuer: true, issuerPath: '/sso' });
  });
  after(() => bridge.close());

  it('sets a SameSite=None; Secure session cookie scoped to the issuer path and Lax; Secure interaction cookies', async () => {
    assert.ok(bridge.issuer.startsWith('https://'));
    const toHttp = (url: URL) => new URL(url.href.replace(/^https:/, 'http:'));
    const browser = new Browser();
    const start = `${bridge.url}/sso/auth?${new URLSearchParams({
      client_id: 'web',
      redirect_uri: `${RP}/cb`,
      response_type: 'code',
      scope: 'openid',
      state: 's',
    })}`;
    const { url } = await browser.follow(start, (u) => u.href.startsWith(`${RP}/cb`), {}, toHttp);
    assert.ok(url.searchParams.get('code'), `reached the client: ${url.href}`);
    assert.equal(url.searchParams.get('iss'), bridge.issuer);

    const setCookies = browser.history.flatMap((h) => h.setCookies);
    const session = setCookies.filter((c) => c.startsWith('_session=') && !c.includes('expires=Thu, 01 Jan 1970'));
    assert.ok(session.length > 0);
    for (const cookie of session) {
      assert.match(cookie, /;\s*path=\/sso;/i);
      assert.match(cookie, /samesite=none/i);
      assert.match(cookie, /;\s*secure/i);
      assert.match(cookie, /httponly/i);
      assert.match(cookie, /expires=/i, 'a remembered login outlives the browser');
    }
    const interaction = setCookies.filter((c) => c.startsWith('_interaction'));
    assert.ok(interaction.length > 0);
    for (const cookie of interaction) {
      assert.match(cookie, /samesite=lax/i);
      assert.match(cookie, /;\s*secure/i);
    }
  });

  it('sends HSTS', async () => {
    const res = await fetch(`${bridge.url}/sso/.well-known/openid-configuration`);
    assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
  });
});
