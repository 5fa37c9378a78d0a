/**
 * oauth2 and oidc upstreams cannot be asked whether a person still belongs
 * (src/accounts/membership.ts): a reused browser session goes through the upstream again once the
 * upstream's `recheckAfter` has passed, and a grant from such an upstream cannot be refreshed once
 * its sign-in is older than `ttl.sessionAbsolute`. Real time: lifetimes of a few seconds are waited
 * out (clockPast), which cannot race.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { clockPast } from '../helpers/clock.js';
import { Browser } from '../helpers/http-browser.js';
import { basic, postForm } from '../helpers/oidc-rp.js';
import { authorizeCount, exchange, login, relyingParty, secretOf, webRedirect, type UpstreamId } from '../helpers/upstream-login.js';

const UPSTREAMS = ['idaas', 'eiam'] as const satisfies readonly UpstreamId[];
/** A `max_age` puts `auth_time` into the ID token (OIDC Core 1.0 §2); a day never forces a login here. */
const WITH_AUTH_TIME = { max_age: '86400' };

async function refresh(bridge: DoublesBridge, clientId: string, token: string) {
  const res = await postForm(
    `${bridge.issuer}/token`,
    { grant_type: 'refresh_token', refresh_token: token },
    { authorization: basic(clientId, secretOf(clientId)) },
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('recheckAfter on oauth2 and oidc upstreams: the person goes through the upstream again', () => {
  let bridge: DoublesBridge;
  before(async () => {
    // The interactive leg; the prompt=none leg an oidc upstream tries first is test/integration/silent-recheck.test.ts.
    bridge = await startBridge({
      upstream: 'doubles',
      upstreamConfig: { idaas: { recheckAfter: 0 }, eiam: { recheckAfter: 0, silentRecheck: false } },
    });
  });
  after(() => bridge.close());

  for (const id of UPSTREAMS) {
    it(`${id}: a due session is not reused; the next login goes straight to ${id}, not the chooser`, async () => {
      const rp = await relyingParty(bridge.issuer, `web-${id}`, 'basic');
      const browser = new Browser();
      const first = (
        await exchange(rp, await login(rp, { redirectUri: webRedirect(id), browser, pick: id, extra: WITH_AUTH_TIME }))
      ).claims()!;
      await clockPast(first.auth_time!);

      const silent = await login(rp, { redirectUri: webRedirect(id), browser, extra: { prompt: 'none' } });
      assert.equal(silent.callback.searchParams.get('error'), 'login_required');

      const asked = authorizeCount(bridge.doubles, id);
      const again = await login(rp, { redirectUri: webRedirect(id), browser, extra: WITH_AUTH_TIME });
      assert.equal(again.chooser, undefined);
      assert.equal(again.page, undefined, 'no chooser, no page: straight through the upstream');
      assert.equal(authorizeCount(bridge.doubles, id), asked + 1);
      const claims = (await exchange(rp, again)).claims()!;
      assert.equal(claims.sub, first.sub);
      assert.ok(claims.auth_time! > first.auth_time!, 'a fresh authentication');
    });
  }
});

describe('ttl.sessionAbsolute on oauth2 and oidc upstreams', () => {
  const LIFETIME = 3;
  let bridge: DoublesBridge;
  before(async () => {
    bridge = await startBridge({ upstream: 'doubles', configPatch: { ttl: { sessionAbsolute: LIFETIME } } });
  });
  after(() => bridge.close());

  for (const id of UPSTREAMS) {
    it(`${id}: refresh is invalid_grant and the session is not reused past it; a new sign-in starts a new one`, async () => {
      const clientId = `web-${id}`;
      const rp = await relyingParty(bridge.issuer, clientId, 'basic');
      const browser = new Browser();
      const tokens = await exchange(rp, await login(rp, { redirectUri: webRedirect(id), browser, pick: id, extra: WITH_AUTH_TIME }));
      const early = await refresh(bridge, clientId, tokens.refresh_token!);
      assert.equal(early.status, 200, 'within the lifetime');

      await clockPast(tokens.claims()!.auth_time! + LIFETIME);
      const late = await refresh(bridge, clientId, early.body.refresh_token as string);
      assert.equal(late.status, 400);
      assert.equal(late.body.error, 'invalid_grant');
      const silent = await login(rp, { redirectUri: webRedirect(id), browser, extra: { prompt: 'none' } });
      assert.equal(silent.callback.searchParams.get('error'), 'login_required');

      const fresh = await exchange(rp, await login(rp, { redirectUri: webRedirect(id), browser, pick: id, extra: WITH_AUTH_TIME }));
      assert.equal((await refresh(bridge, clientId, fresh.refresh_token!)).status, 200, 'the new grant refreshes');
      const reused = await login(rp, { redirectUri: webRedirect(id), browser, extra: { prompt: 'none' } });
      assert.ok(reused.callback.searchParams.get('code'), 'the new session is reused');
    });
  }
});
