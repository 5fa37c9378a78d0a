// The authorization parameters that steer the upstream leg, through the whole bridge:
// `upstream=<id>` (skips the chooser; unknown or not allowed is invalid_request back to the client),
// and `prompt=login` / `max_age` forcing a new upstream leg with a fresh `auth_time`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Browser } from '../helpers/http-browser.js';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { clockPast } from '../helpers/clock.js';
import { authorizationRequest } from '../helpers/oidc-rp.js';
import {
  authorizeCount,
  exchange,
  exchangeVerbatim,
  KUBECTL_REDIRECTS,
  login,
  relyingParty,
  STORES,
  UPSTREAM_IDS,
  webRedirect,
  type Doubles,
  type UpstreamId,
} from '../helpers/upstream-login.js';

const counts = (d: Doubles) => UPSTREAM_IDS.map((id) => authorizeCount(d, id));

// The two stores run side by side (their bridges and doubles are separate), so the clock waits overlap.
describe('upstream parameter and re-authentication', { concurrency: true }, () => {
  for (const store of STORES) {
    describe(`${store} store`, { concurrency: 1 }, () => {
      let doubles: Doubles;
      let bridge: DoublesBridge;

      before(async () => {
        bridge = await startBridge({ upstream: 'doubles', store });
        doubles = bridge.doubles;
      });
      after(async () => {
        await bridge?.close();
      });

      describe('upstream=<id>', () => {
        it('goes straight to the named upstream, skipping the chooser', async () => {
          const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
          const before = authorizeCount(doubles, 'oidc');
          const leg = await login(rp, { redirectUri: webRedirect('idaas'), extra: { upstream: 'oidc' } });
          assert.equal(leg.chooser, undefined);
          assert.equal(leg.page, undefined, 'no page on the way');
          assert.equal(authorizeCount(doubles, 'oidc'), before + 1);
          assert.equal((await exchange(rp, leg)).claims()?.name, 'Li Na', 'signed in through the named upstream');
        });

        it('with a session from another upstream, goes to the named upstream (never a silent fallback)', async () => {
          const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
          const browser = new Browser();
          await exchange(rp, await login(rp, { redirectUri: webRedirect('idaas'), browser, extra: { upstream: 'idaas' } }));
          const before = authorizeCount(doubles, 'oidc');
          const leg = await login(rp, { redirectUri: webRedirect('idaas'), browser, extra: { upstream: 'oidc' } });
          assert.equal(authorizeCount(doubles, 'oidc'), before + 1, 'the named upstream was asked');
          assert.equal((await exchange(rp, leg)).claims()?.name, 'Li Na');
          const again = await login(rp, { redirectUri: webRedirect('idaas'), browser, extra: { upstream: 'oidc' } });
          assert.equal(authorizeCount(doubles, 'oidc'), before + 1, 'a session from the named upstream is reused');
          assert.ok(again.callback.searchParams.get('code'));
        });

        it('the start route of another upstream goes back to the named one (never a silent switch)', async () => {
          const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
          const browser = new Browser();
          const request = await authorizationRequest(rp, {
            redirectUri: webRedirect('idaas'),
            scope: 'openid profile',
            extra: { upstream: 'idaas' },
          });
          const toInteraction = await browser.fetch(request.url);
          const interaction = new URL(toInteraction.headers.get('location')!, request.url);
          assert.match(interaction.pathname, /\/interaction\/[^/]+$/);
          const before = counts(doubles);
          // The person edits the start route to another upstream the client also allows.
          const edited = await browser.fetch(new URL(`${interaction.pathname}/upstream/oidc`, interaction));
          assert.equal(edited.status, 303);
          assert.equal(new URL(edited.headers.get('location')!, interaction).href, interaction.href, 'back to the interaction');
          const stopAt = (u: URL) => u.href.startsWith(webRedirect('idaas'));
          const { url: callback } = await browser.follow(interaction, stopAt);
          const [idaasAsked, oidcAsked] = counts(doubles);
          assert.deepEqual([idaasAsked! - before[0]!, oidcAsked! - before[1]!], [1, 0], 'the named upstream was asked, the other never');
          const claims = (await exchange(rp, { callback, ...request })).claims()!;
          assert.notEqual(claims.name, 'Li Na', "not the other upstream's person");
        });

        it('works for the public kubectl client too', async () => {
          const rp = await relyingParty(bridge.issuer, 'kubectl', 'none');
          const before = authorizeCount(doubles, 'eiam');
          const leg = await login(rp, { redirectUri: KUBECTL_REDIRECTS[0], pkce: true, extra: { upstream: 'eiam' } });
          assert.equal(leg.chooser, undefined);
          assert.equal(authorizeCount(doubles, 'eiam'), before + 1);
          assert.equal((await exchangeVerbatim(rp, leg, KUBECTL_REDIRECTS[0])).claims()?.name, '王芳');
        });

        for (const [label, clientId, requested] of [
          ['unknown', 'web-idaas', 'nope'],
          ['configured but not allowed for this client', 'web-idaas', 'eiam'],
          ['not allowed for a single-upstream client', 'ks-idaas', 'oidc'],
        ] as const) {
          it(`${label}: invalid_request back to the client with its state, no upstream asked`, async () => {
            const rp = await relyingParty(bridge.issuer, clientId, 'basic');
            const before = counts(doubles);
            const redirectUri = clientId === 'ks-idaas' ? 'https://ks.example.test/oauth/redirect/idaas' : webRedirect('idaas');
            const leg = await login(rp, { redirectUri, state: 'idaas', extra: { upstream: requested } });
            assert.equal(leg.page, undefined, 'an OAuth error redirect, not a page');
            assert.equal(leg.callback.origin + leg.callback.pathname, redirectUri);
            assert.equal(leg.callback.searchParams.get('error'), 'invalid_request');
            assert.equal(leg.callback.searchParams.get('state'), 'idaas');
            assert.equal(leg.callback.searchParams.get('code'), null);
            assert.deepEqual(counts(doubles), before);
          });
        }
      });

      // Each upstream runs its own timeline in its own browser; run together, their clock waits overlap.
      describe('prompt=login and max_age after a session exists', { concurrency: true }, () => {
        for (const id of ['idaas', 'eiam'] as const satisfies readonly UpstreamId[]) {
          it(`forces a new ${id} leg and a fresh auth_time`, async () => {
            const rp = await relyingParty(bridge.issuer, `web-${id}`, 'basic');
            const browser = new Browser();
            const signIn = async (extra: Record<string, string>) => {
              const before = authorizeCount(doubles, id);
              const leg = await login(rp, { redirectUri: webRedirect(id), browser, pick: id, extra });
              const claims = (await exchange(rp, leg)).claims()!;
              assert.equal(typeof claims.auth_time, 'number', `auth_time with ${JSON.stringify(extra)}`);
              return { upstreamAsked: authorizeCount(doubles, id) - before, authTime: claims.auth_time!, sub: claims.sub };
            };

            const first = await signIn({ max_age: '86400' });
            assert.equal(first.upstreamAsked, 1);
            const reused = await signIn({ max_age: '86400' });
            assert.deepEqual([reused.upstreamAsked, reused.authTime], [0, first.authTime], 'a young session is reused');
            // A margin, not a race: the session is seconds old however loaded the machine is.
            const young = await signIn({ max_age: '120' });
            assert.equal(young.upstreamAsked, 0, 'max_age=120 right after the login: still fresh enough');

            // OIDC Core 3.1.2.1: max_age=0 is prompt=login, even within the second of the last login.
            const zero = await signIn({ max_age: '0' });
            assert.equal(zero.upstreamAsked, 1, 'max_age=0 goes upstream again');
            assert.ok(zero.authTime >= first.authTime);
            assert.equal(zero.sub, first.sub);

            await clockPast(zero.authTime);
            const forced = await signIn({ prompt: 'login', upstream: id });
            assert.equal(forced.upstreamAsked, 1, 'prompt=login goes upstream again (upstream= skips the chooser)');
            assert.ok(forced.authTime > zero.authTime, 'with a fresh auth_time');

            // max_age=1 needs the session to be older than one whole second.
            await clockPast(forced.authTime + 1);
            const stale = await signIn({ max_age: '1' });
            assert.equal(stale.upstreamAsked, 1, 'max_age=1 on an older session goes upstream again');
            assert.ok(stale.authTime > forced.authTime + 1, 'with a fresh auth_time');
          });
        }
      });
    });
  }
});
