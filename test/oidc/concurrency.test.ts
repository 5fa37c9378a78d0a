/**
 * Races at the HTTP level, on the memory store and on Redis: one authorization code redeemed in
 * parallel, one refresh token redeemed in parallel and within/after the grace window
 * (src/oidc/refresh-grace.ts). The window is long where a test needs requests to land inside it,
 * so a slow machine cannot close it early; where a test needs it over, the memory store's clock is
 * moved past it (Redis keeps its own clock: there a 1 s window is waited out, which cannot race).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import * as client from 'openid-client';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { testClock } from '../helpers/clock.js';
import { authorize, basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';

const WEB_CB = `${RP}/cb`;
/** Longer than any two sequential requests take, however loaded the machine. */
const LONG_GRACE_SECONDS = 60;
/** Redis only: a window short enough to wait out. */
const SHORT_GRACE_SECONDS = 1;

async function statusAndBody(res: Response) {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`concurrent redemptions on the ${kind} store`, () => {
    let bridge: Bridge;
    let rp: client.Configuration;
    const auth = { authorization: basic('web', 'web-secret') };
    before(async () => {
      bridge = await startBridge({ store: kind, configPatch: { refreshGraceSeconds: LONG_GRACE_SECONDS } });
      rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    });
    after(() => bridge.close());

    const refreshAt = (b: Bridge, token: string) =>
      postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: token }, auth);
    const refresh = (token: string) => refreshAt(bridge, token);

    it('gives one 200 and N-1 invalid_grant for 10 parallel redemptions of one code', async () => {
      const { callback } = await authorize(rp, { redirectUri: WEB_CB });
      const code = callback.searchParams.get('code')!;
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          postForm(
            `${bridge.issuer}/token`,
            {
              grant_type: 'authorization_code',
              code,
              redirect_uri: WEB_CB,
            },
            auth,
          ).then(statusAndBody),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
      for (const r of results.filter((x) => x.status === 400)) assert.equal(r.body.error, 'invalid_grant');
    });

    it('answers 5 parallel redemptions of one refresh token with the same body', async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      const results = await Promise.all(Array.from({ length: 5 }, () => refresh(tokens.refresh_token!).then(statusAndBody)));
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200, 200],
      );
      for (const r of results.slice(1)) assert.deepEqual(r.body, results[0]!.body);
      assert.notEqual(results[0]!.body.refresh_token, tokens.refresh_token, 'rotated once');
      // The one rotated token works.
      const next = await refresh(results[0]!.body.refresh_token as string);
      assert.equal(next.status, 200);
    });

    it("answers a retry within the window with the winner's reply", async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      const first = await statusAndBody(await refresh(tokens.refresh_token!));
      assert.equal(first.status, 200);
      const retry = await statusAndBody(await refresh(tokens.refresh_token!));
      assert.deepEqual(retry, first);
    });

    it("refuses a redemption within the window that asks for another scope than the winner's", async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid profile email' });
      const first = await statusAndBody(await refresh(tokens.refresh_token!));
      assert.equal(first.status, 200);
      const narrower = await statusAndBody(
        await postForm(
          `${bridge.issuer}/token`,
          { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope: 'openid' },
          auth,
        ),
      );
      assert.equal(narrower.status, 400);
      assert.equal(narrower.body.error, 'invalid_grant');
      assert.equal(narrower.body.access_token, undefined);
      // The refusal revoked nothing: the same request again still gets the winner's reply.
      const retry = await statusAndBody(await refresh(tokens.refresh_token!));
      assert.deepEqual(retry, first);
      assert.equal((await refresh(first.body.refresh_token as string)).status, 200);
    });

    it('adopts the reply for the same scope in another order', async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid profile email' });
      const form = (scope: string) => ({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope });
      const first = await statusAndBody(await postForm(`${bridge.issuer}/token`, form('openid profile'), auth));
      assert.equal(first.status, 200);
      const reordered = await statusAndBody(await postForm(`${bridge.issuer}/token`, form('profile openid'), auth));
      assert.deepEqual(reordered, first);
    });

    it("adopts the reply for a request naming the token's own scope where the winner named none", async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid profile email' });
      const first = await statusAndBody(await refresh(tokens.refresh_token!));
      assert.equal(first.status, 200);
      const named = await statusAndBody(
        await postForm(
          `${bridge.issuer}/token`,
          { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope: 'email openid profile' },
          auth,
        ),
      );
      assert.deepEqual(named, first);
    });

    it('revokes the grant when the rotated token comes back after the window', async () => {
      const clock = testClock();
      const own =
        kind === 'memory'
          ? await startBridge({ store: kind, clock: clock.now, configPatch: { refreshGraceSeconds: LONG_GRACE_SECONDS } })
          : await startBridge({ store: kind, configPatch: { refreshGraceSeconds: SHORT_GRACE_SECONDS } });
      try {
        const ownRp = await rpFor(own, 'web', { secret: 'web-secret' });
        const { tokens } = await signIn(ownRp, { redirectUri: WEB_CB });
        const first = await statusAndBody(await refreshAt(own, tokens.refresh_token!));
        assert.equal(first.status, 200);

        // Let the grace window pass: move the memory store's clock, or wait out Redis's TTL.
        if (kind === 'memory') clock.advance((LONG_GRACE_SECONDS + 1) * 1000);
        else await delay(SHORT_GRACE_SECONDS * 1000 + 200);
        const reuse = await statusAndBody(await refreshAt(own, tokens.refresh_token!));
        assert.equal(reuse.status, 400);
        assert.equal(reuse.body.error, 'invalid_grant');
        // Reuse of a rotated token ends the whole grant: the winner's tokens are dead too.
        const rotated = await statusAndBody(await refreshAt(own, first.body.refresh_token as string));
        assert.equal(rotated.body.error, 'invalid_grant');
        assert.equal((await client.tokenIntrospection(ownRp, first.body.access_token as string)).active, false);
      } finally {
        await own.close();
      }
    });
  });
}
