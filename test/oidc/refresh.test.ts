/**
 * Refresh-token chains (src/oidc/refresh-grace.ts, oidc-provider's rotation): what the grace
 * window gives and to whom, a client's own window, and the grant's lifetime as the end of a chain.
 * Time passes on the memory store's clock (test/helpers/clock.ts); Redis keeps its own, so there a
 * short lifetime is waited out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import * as client from 'openid-client';
import { startBridge, RP, TEST_CLIENTS, type Bridge } from '../helpers/bridge.js';
import { testClock } from '../helpers/clock.js';
import { basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';

const WEB_CB = `${RP}/cb`;
/** Longer than any two sequential requests take, however loaded the machine. */
const LONG_GRACE_SECONDS = 60;

async function refreshAs(bridge: Bridge, clientId: string, token: string) {
  const res = await postForm(
    `${bridge.issuer}/token`,
    { grant_type: 'refresh_token', refresh_token: token },
    { authorization: basic(clientId, `${clientId}-secret`) },
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`refresh chains on the ${kind} store`, () => {
    let bridge: Bridge;
    let rp: client.Configuration;
    before(async () => {
      bridge = await startBridge({
        store: kind,
        configPatch: { refreshGraceSeconds: LONG_GRACE_SECONDS },
        // `strict` is `web` with a window of its own: no replay at all.
        clients: [...TEST_CLIENTS, { ...TEST_CLIENTS[0]!, client_id: 'strict', client_secret: 'strict-secret', refreshGraceSeconds: 0 }],
      });
      rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    });
    after(() => bridge.close());

    it("another client presenting A's rotated refresh token inside the grace window gets invalid_grant, and A's grant survives", async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      const first = await refreshAs(bridge, 'web', tokens.refresh_token!);
      assert.equal(first.status, 200);

      const stolen = await refreshAs(bridge, 'other', tokens.refresh_token!);
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, 'invalid_grant');
      assert.equal(stolen.body.access_token, undefined, "never the winner's tokens");

      assert.equal((await client.tokenIntrospection(rp, first.body.access_token as string)).active, true, "A's access token still works");
      const next = await refreshAs(bridge, 'web', first.body.refresh_token as string);
      assert.equal(next.status, 200, "A's rotated refresh token still works");
    });

    it('a client with refreshGraceSeconds: 0 gets no replay: a reuse inside the global window revokes the grant', async () => {
      const strict = await rpFor(bridge, 'strict', { secret: 'strict-secret' });
      const { tokens } = await signIn(strict, { redirectUri: WEB_CB });
      const first = await refreshAs(bridge, 'strict', tokens.refresh_token!);
      assert.equal(first.status, 200);

      const reuse = await refreshAs(bridge, 'strict', tokens.refresh_token!);
      assert.equal(reuse.status, 400);
      assert.equal(reuse.body.error, 'invalid_grant');
      assert.equal(reuse.body.access_token, undefined);
      // Reuse detection (https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2): the whole grant ends.
      assert.equal((await refreshAs(bridge, 'strict', first.body.refresh_token as string)).body.error, 'invalid_grant');
      assert.equal((await client.tokenIntrospection(strict, first.body.access_token as string)).active, false);
    });

    it('a client without its own window keeps the global one', async () => {
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      const first = await refreshAs(bridge, 'web', tokens.refresh_token!);
      assert.deepEqual(await refreshAs(bridge, 'web', tokens.refresh_token!), first);
    });
  });
}

describe('a short ttl.grant ends a rotating refresh chain', () => {
  it('on the memory store', async () => {
    const clock = testClock();
    const bridge = await startBridge({ clock: clock.now, configPatch: { ttl: { grant: 300 } } });
    try {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      clock.advance(200_000);
      const first = await refreshAs(bridge, 'web', tokens.refresh_token!);
      assert.equal(first.status, 200, 'rotates while the grant lives');
      clock.advance(150_000);
      // The rotated token is fresh (ttl.refreshToken is 30 days), but its grant is 350 s old.
      const second = await refreshAs(bridge, 'web', first.body.refresh_token as string);
      assert.equal(second.status, 400);
      assert.equal(second.body.error, 'invalid_grant');
    } finally {
      await bridge.close();
    }
  });

  it('on Redis', async () => {
    const bridge = await startBridge({ store: 'redis', configPatch: { ttl: { grant: 2 }, refreshGraceSeconds: 0 } });
    try {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      const first = await refreshAs(bridge, 'web', tokens.refresh_token!);
      assert.equal(first.status, 200);
      // Let the grant's 2 s pass (Redis's own clock): not a readiness wait.
      await delay(3100);
      const second = await refreshAs(bridge, 'web', first.body.refresh_token as string);
      assert.equal(second.status, 400);
      assert.equal(second.body.error, 'invalid_grant');
    } finally {
      await bridge.close();
    }
  });
});
