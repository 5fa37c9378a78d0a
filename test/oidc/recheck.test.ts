/**
 * Asking the upstream again: on every winning refresh (`recheck`) and when a browser session is
 * reused (`needsRecheck`), plus accounts that left.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { ALICE, startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { authorize, basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';
import type { RecheckOutcome } from '../../src/accounts/membership.js';

const WEB_CB = `${RP}/cb`;

for (const kind of ['memory', 'redis'] as const) {
  describe(`rechecks on the ${kind} store`, () => {
    let bridge: Bridge;
    let rp: client.Configuration;
    let verdict: RecheckOutcome | 'throw' = 'ok';
    let recheckCalls = 0;
    let due = false;
    before(async () => {
      bridge = await startBridge({
        store: kind,
        recheck: async () => {
          recheckCalls += 1;
          if (verdict === 'throw') throw new Error('upstream client bug');
          return verdict;
        },
        needsRecheck: async () => due,
      });
      rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    });
    after(() => bridge.close());
    beforeEach(() => {
      verdict = 'ok';
      due = false;
      recheckCalls = 0;
      bridge.accounts.set(ALICE.sub, structuredClone(ALICE));
    });

    const refresh = async (token: string) => {
      const res = await postForm(
        `${bridge.issuer}/token`,
        { grant_type: 'refresh_token', refresh_token: token },
        { authorization: basic('web', 'web-secret') },
      );
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it('asks the upstream once per winning refresh, not for parallel losers', async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      assert.equal(recheckCalls, 0, 'not asked at the code exchange');
      const results = await Promise.all(Array.from({ length: 4 }, () => refresh(tokens.refresh_token!)));
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200],
      );
      assert.equal(recheckCalls, 1);
    });

    it('revoked: invalid_grant, and every grant and browser session of the account ends', async () => {
      const browser = new Browser();
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, browser });
      const other = await signIn(await rpFor(bridge, 'es', { secret: 'es-secret' }), {
        redirectUri: 'https://es.example.test/cb',
        browser,
      });
      verdict = 'revoked';
      const res = await refresh(tokens.refresh_token!);
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_grant');
      assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, false);
      assert.equal(
        (await client.tokenIntrospection(await rpFor(bridge, 'es', { secret: 'es-secret' }), other.tokens.access_token)).active,
        false,
        'the grant of another client ended too',
      );
      const { callback } = await authorize(rp, { redirectUri: WEB_CB, browser, extra: { prompt: 'none' } });
      assert.equal(callback.searchParams.get('error'), 'login_required', 'the browser session is gone');
    });

    it('unavailable: 503 temporarily_unavailable, the grant is kept and the token works later', async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      verdict = 'unavailable';
      const res = await postForm(
        `${bridge.issuer}/token`,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
        { authorization: basic('web', 'web-secret') },
      );
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      verdict = 'ok';
      const later = await refresh(tokens.refresh_token!);
      assert.equal(later.status, 200);
    });

    it('expired: this refresh is invalid_grant, but nothing else of the person ends', async () => {
      const browser = new Browser();
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, browser });
      const other = await signIn(rp, { redirectUri: WEB_CB, browser });
      verdict = 'expired';
      const res = await refresh(tokens.refresh_token!);
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_grant');
      assert.equal((await client.tokenIntrospection(rp, other.tokens.access_token)).active, true, 'other grants are kept');
      const { callback } = await authorize(rp, { redirectUri: WEB_CB, browser, extra: { prompt: 'none' } });
      assert.ok(callback.searchParams.get('code'), 'the browser session still signs the person in');
    });

    it('a failing recheck is a 503, not a 500', async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      verdict = 'throw';
      const res = await refresh(tokens.refresh_token!);
      assert.equal(res.status, 503);
      assert.equal(res.body.error, 'temporarily_unavailable');
    });

    it('raises the login prompt (recheck_due) when a reused session needs a recheck', async () => {
      const browser = new Browser();
      await signIn(rp, { redirectUri: WEB_CB, browser });
      due = true;
      const silent = await authorize(rp, { redirectUri: WEB_CB, browser, extra: { prompt: 'none' } });
      assert.equal(silent.callback.searchParams.get('error'), 'login_required');
      const seen = bridge.interactions.length;
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, browser });
      assert.ok(tokens.id_token);
      const login = bridge.interactions.slice(seen).find((i) => i.prompt === 'login');
      assert.ok(login?.reasons.includes('recheck_due'), JSON.stringify(bridge.interactions.slice(seen)));
    });

    it('an account that left: userinfo and refresh refuse, and its session no longer signs anyone in', async () => {
      const browser = new Browser();
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, browser });
      bridge.accounts.set(ALICE.sub, { ...structuredClone(ALICE), status: 'left' });
      const userinfo = await fetch(`${bridge.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(userinfo.status, 401);
      assert.equal((await refresh(tokens.refresh_token!)).body.error, 'invalid_grant');
      const seen = bridge.interactions.length;
      const { callback } = await authorize(rp, { redirectUri: WEB_CB, browser });
      assert.ok(bridge.interactions.slice(seen)[0]?.reasons.includes('account_unavailable'));
      assert.equal(callback.searchParams.get('error'), 'access_denied', 'logging in as a departed account is refused');
    });
  });
}
