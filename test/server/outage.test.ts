/**
 * A Redis outage mid-test on a private redis-server: protocol endpoints answer 503
 * temporarily_unavailable (never 500), discovery, JWKS and the probes keep answering, and
 * the bridge recovers by itself once Redis is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import type { StoreHealth } from '../../src/store/types.js';

const WEB_CB = `${RP}/cb`;

function healthIs(bridge: Bridge, wanted: StoreHealth): Promise<void> {
  if (bridge.store.health() === wanted) return Promise.resolve();
  return new Promise((resolve) =>
    bridge.store.onHealthChange((h) => {
      if (h === wanted) resolve();
    }),
  );
}

describe('store outage', () => {
  let redis: RedisServer;
  let bridge: Bridge;
  let rp: client.Configuration;
  let tokens: Awaited<ReturnType<typeof signIn>>['tokens'];
  before(async () => {
    redis = await startRedisServer();
    bridge = await startBridge({ store: 'redis', redisUrl: redis.url });
    rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    ({ tokens } = await signIn(rp, { redirectUri: WEB_CB }));
  });
  after(async () => {
    await bridge.close();
    await redis.stop();
  });

  it('answers 503 temporarily_unavailable where the store is needed, and keeps discovery, JWKS and probes up', async () => {
    // A sign-in that reached its interaction page before the outage.
    const browser = new Browser();
    const started = await browser.follow(client.buildAuthorizationUrl(rp, { redirect_uri: WEB_CB, scope: 'openid', state: 's' }), (url) =>
      url.pathname.includes('/interaction/'),
    );
    const down = healthIs(bridge, 'down');
    await redis.stop();
    await down;

    const refresh = await postForm(
      `${bridge.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(refresh.status, 503);
    assert.equal(((await refresh.json()) as { error: string }).error, 'temporarily_unavailable');

    const userinfo = await fetch(`${bridge.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 503);
    assert.equal(((await userinfo.json()) as { error: string }).error, 'temporarily_unavailable');

    const introspection = await postForm(
      `${bridge.issuer}/token/introspection`,
      { token: tokens.access_token },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(introspection.status, 503);

    const authorization = await fetch(
      `${bridge.issuer}/auth?${new URLSearchParams({
        client_id: 'web',
        redirect_uri: WEB_CB,
        response_type: 'code',
        scope: 'openid',
        state: 's',
      })}`,
      { redirect: 'manual' },
    );
    assert.equal(authorization.status, 303);
    assert.equal(new URL(authorization.headers.get('location')!).searchParams.get('error'), 'temporarily_unavailable');

    const interaction = await browser.fetch(started.url, { headers: { accept: 'application/json' } });
    assert.equal(interaction.status, 503);
    assert.equal(((await interaction.json()) as { error: string }).error, 'temporarily_unavailable');

    for (const path of ['/.well-known/openid-configuration', '/jwks', '/readyz', '/healthz']) {
      assert.equal((await fetch(`${bridge.issuer}${path}`)).status, 200, path);
    }
  });

  it('works again once the store is back', async () => {
    const up = healthIs(bridge, 'up');
    await redis.restart();
    await up;
    // The private server restarts empty: sign in afresh, then refresh.
    const fresh = await signIn(rp, { redirectUri: WEB_CB });
    const refreshed = await client.refreshTokenGrant(rp, fresh.tokens.refresh_token!);
    assert.ok(refreshed.access_token);
  });
});
