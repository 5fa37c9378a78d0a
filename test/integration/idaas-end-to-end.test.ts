// The bridge as production wires it, in front of each upstream type: `oauth2` with
// `preset: aliyun-idaas` (EIAM 1.0), `oidc` at a root issuer, and `oidc` at an EIAM 2.0 style
// issuer path. openid-client 6 is the relying party; every hop is real HTTP. On the memory store,
// and on Redis under a random prefix with an issuer that has a path.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { subjectFor } from '../../src/accounts/subject.js';
import { Browser } from '../helpers/http-browser.js';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import {
  assertKubeSphereClaims,
  assertRs256WithPublishedKid,
  authorizeCount,
  DISPLAY_NAMES,
  exchange,
  exchangeVerbatim,
  ksRedirect,
  KUBECTL_REDIRECTS,
  login,
  logout,
  relyingParty,
  STORES,
  UPSTREAM_IDS,
  webLogoutRedirect,
  webRedirect,
  type Doubles,
  type UpstreamId,
} from '../helpers/upstream-login.js';

const OTHER: Record<UpstreamId, UpstreamId> = { idaas: 'oidc', oidc: 'idaas', eiam: 'idaas' };

/** The upstream person each double signs in, as the bridge should present them. */
const EXPECTED: Record<UpstreamId, { subject: string; name: string; username: string }> = {
  // Generic upstreams do not vouch for the names they give (vouchesForUsernames: false by default):
  // their people's usernames carry the upstream's prefix.
  idaas: { subject: '42', name: '张伟', username: 'idaas-zhangwei' },
  oidc: { subject: 'user-1', name: 'Li Na', username: 'oidc-lina' },
  eiam: { subject: 'user_01hzx9k3m2v7q8r4t6y0w1e5bn', name: '王芳', username: 'eiam-wangfang' },
};

const isInvalidGrant = (err: unknown) => (err as { error?: string }).error === 'invalid_grant';

for (const store of STORES) {
  describe(`upstreams end to end (${store} store)`, () => {
    let doubles: Doubles;
    let bridge: DoublesBridge;

    before(async () => {
      bridge = await startBridge({
        upstream: 'doubles',
        store,
        // The Redis run also proves every route, upstream callbacks included, lives under an issuer path.
        ...(store === 'redis' ? { issuerPath: '/sso' } : {}),
        // Rotation without a grace window: a second, sequential reuse is a replay.
        configPatch: { refreshGraceSeconds: 0 },
      });
      doubles = bridge.doubles;
    });
    after(async () => {
      await bridge?.close();
    });

    it('publishes discovery for code flow with PKCE S256, RS256, revocation and end_session', async () => {
      const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
      const meta = rp.serverMetadata();
      assert.equal(meta.issuer, bridge.issuer);
      assert.deepEqual(meta.response_types_supported, ['code']);
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
      assert.ok(meta.id_token_signing_alg_values_supported?.includes('RS256'));
      for (const endpoint of [
        meta.authorization_endpoint,
        meta.token_endpoint,
        meta.userinfo_endpoint,
        meta.revocation_endpoint,
        meta.end_session_endpoint,
        meta.jwks_uri,
      ]) {
        assert.ok(endpoint?.startsWith(`${bridge.issuer}/`), `${endpoint} lives under the issuer`);
      }
    });

    for (const id of UPSTREAM_IDS) {
      describe(`through ${id}`, () => {
        const clientId = `web-${id}`;
        let rp: client.Configuration;

        before(async () => {
          rp = await relyingParty(bridge.issuer, clientId, 'basic');
        });

        /** Each test signs in afresh (a new browser, through the chooser), so none depends on another. */
        async function signIn() {
          const browser = new Browser();
          const before = authorizeCount(doubles, id);
          const leg = await login(rp, { redirectUri: webRedirect(id), pick: id, browser });
          const upstreamAsked = authorizeCount(doubles, id) - before;
          const tokens = await exchange(rp, leg);
          return { browser, leg, upstreamAsked, tokens, sub: tokens.claims()!.sub };
        }

        it('signs in through the chooser and the upstream; the ID token is RS256 with a published kid', async () => {
          const { leg, upstreamAsked, tokens: first } = await signIn();
          assert.deepEqual(
            leg.chooser?.map((o) => o.id),
            [id, OTHER[id]],
            'the chooser lists both upstreams of this client',
          );
          assert.ok(leg.chooser?.[0]?.label.includes(DISPLAY_NAMES[id]['zh-CN']), 'zh-CN display names by default');
          assert.ok(leg.chooser?.[1]?.label.includes(DISPLAY_NAMES[OTHER[id]]['zh-CN']));
          assert.equal(upstreamAsked, 1, 'the chosen upstream was asked');
          const claims = first.claims()!;
          assert.equal(claims.iss, bridge.issuer);
          assert.equal(claims.aud, clientId);
          assert.equal(claims.name, EXPECTED[id].name);
          assert.equal(claims.preferred_username, EXPECTED[id].username);
          assertKubeSphereClaims(claims);
          await assertRs256WithPublishedKid(rp, first.id_token!);
          assert.ok(first.refresh_token, 'a client with the refresh_token grant gets a refresh token');
        });

        it('links the upstream subject to a stable, label-safe sub', async () => {
          const { sub } = await signIn();
          const account = await bridge.bridge.accounts.get(sub);
          assert.ok(account, 'the account exists');
          assert.equal(account.profile.subject, EXPECTED[id].subject);
          assert.equal(account.linkKey, EXPECTED[id].subject);
          assert.equal(sub, subjectFor(account.linkDomain, account.linkKey));
          const linkDomain = id === 'idaas' ? `oauth2:${new URL(doubles.idaas.url).host}` : `oidc:${doubles[id].issuer}`;
          assert.equal(account.linkDomain, linkDomain, "the linkDomain is the upstream's tenant, not the config id");
        });

        it('answers userinfo for the access token', async () => {
          const { tokens: first, sub } = await signIn();
          const info = await client.fetchUserInfo(rp, first.access_token, sub);
          assert.equal(info.sub, sub);
          assert.equal(info.name, EXPECTED[id].name);
          assert.equal(info.preferred_username, EXPECTED[id].username);
        });

        it('refreshes to new tokens', async () => {
          const { tokens: first, sub } = await signIn();
          const refreshed = await client.refreshTokenGrant(rp, first.refresh_token!);
          assert.notEqual(refreshed.access_token, first.access_token);
          assert.ok(refreshed.refresh_token);
          assert.notEqual(refreshed.refresh_token, first.refresh_token, 'refresh tokens rotate');
          assert.equal(refreshed.claims()?.sub, sub);
          await assertRs256WithPublishedKid(rp, refreshed.id_token!);
          const info = await client.fetchUserInfo(rp, refreshed.access_token, sub);
          assert.equal(info.sub, sub);
        });

        it('revokes a refresh token (RFC 7009), which then fails', async () => {
          const { tokens: first } = await signIn();
          const refreshed = await client.refreshTokenGrant(rp, first.refresh_token!);
          await client.tokenRevocation(rp, refreshed.refresh_token!);
          await assert.rejects(client.refreshTokenGrant(rp, refreshed.refresh_token!), isInvalidGrant);
        });

        it('reuses the browser session without the upstream; reusing a rotated refresh token is invalid_grant and ends the grant', async () => {
          const { browser, sub } = await signIn();
          const before = authorizeCount(doubles, id);
          const leg = await login(rp, { redirectUri: webRedirect(id), browser });
          assert.equal(leg.chooser, undefined, 'no chooser with a live session');
          assert.equal(authorizeCount(doubles, id), before, 'the upstream was not asked again');
          const tokens = await exchange(rp, leg);
          assert.equal(tokens.claims()?.sub, sub);
          const next = await client.refreshTokenGrant(rp, tokens.refresh_token!);
          await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token!), isInvalidGrant, 'a sequential reuse is refused');
          await assert.rejects(client.refreshTokenGrant(rp, next.refresh_token!), isInvalidGrant, 'the replay revoked the whole grant');
        });

        it('logs out (RP-initiated): confirmation form, redirect with state, and the next /auth goes to the upstream again', async () => {
          const { browser, tokens: first, sub } = await signIn();
          const landed = await logout(browser, rp, {
            idTokenHint: first.id_token!,
            postLogoutRedirectUri: webLogoutRedirect(id),
            state: `bye-${id}`,
          });
          assert.equal(landed.origin + landed.pathname, webLogoutRedirect(id));
          assert.equal(landed.searchParams.get('state'), `bye-${id}`);
          const before = authorizeCount(doubles, id);
          const leg = await login(rp, { redirectUri: webRedirect(id), pick: id, browser });
          assert.ok(leg.chooser, 'signed out: the chooser shows again');
          assert.equal(authorizeCount(doubles, id), before + 1, 'the upstream was asked again');
          assert.equal((await exchange(rp, leg)).claims()?.sub, sub, 'the same person gets the same sub');
        });
      });

      it(`KubeSphere-style client through ${id}: confidential, no PKCE, no nonce, state = IdP name`, async () => {
        const auth = id === 'oidc' ? 'post' : 'basic';
        const rp = await relyingParty(bridge.issuer, `ks-${id}`, auth);
        const before = authorizeCount(doubles, id);
        const leg = await login(rp, { redirectUri: ksRedirect(id), state: id, nonce: false, scope: 'openid profile email' });
        assert.equal(leg.chooser, undefined, 'one upstream: no chooser');
        assert.equal(authorizeCount(doubles, id), before + 1);
        assert.equal(leg.callback.searchParams.get('state'), id);
        const tokens = await exchange(rp, leg);
        const claims = tokens.claims()!;
        assert.equal(claims.nonce, undefined);
        // kube-apiserver and KubeSphere read the ID token only: the profile claims must be in it.
        assertKubeSphereClaims(claims);
        assert.equal(claims.preferred_username, EXPECTED[id].username);
        assert.equal(claims.name, EXPECTED[id].name);
        assert.equal(
          typeof claims.email,
          id === 'idaas' ? 'undefined' : 'string',
          'IDaaS EIAM 1.0 emails are unverified: emitEmail verified drops them',
        );
        await assertRs256WithPublishedKid(rp, tokens.id_token!);
        const account = await bridge.bridge.accounts.get(claims.sub);
        assert.equal(
          account?.profile.subject,
          EXPECTED[id].subject,
          id === 'idaas' ? 'the numeric IDaaS id 42 became "42"' : 'subject kept',
        );
        if (id === 'idaas') {
          const userinfo = doubles.idaas.requests.userinfo.at(-1);
          assert.match(userinfo?.authorization ?? '', /^Bearer /, 'EIAM 1.0 userinfo gets the token as Bearer');
          assert.equal(userinfo?.query.get('access_token'), null, 'never in the query string');
        } else {
          const authorize = doubles[id].requests.authorize.at(-1);
          assert.ok(authorize?.get('nonce'), 'the bridge sends the upstream a nonce');
          assert.equal(authorize?.get('code_challenge_method'), 'S256', 'and PKCE');
        }
      });

      it(`kubectl-style public client through ${id}: PKCE S256 on each configured loopback redirect`, async () => {
        const rp = await relyingParty(bridge.issuer, 'kubectl', 'none');
        for (const redirectUri of KUBECTL_REDIRECTS) {
          const leg = await login(rp, { redirectUri, pick: id, pkce: true, scope: 'openid profile email' });
          assert.equal(leg.chooser?.length, 3, 'kubectl offers every upstream');
          const tokens = await exchangeVerbatim(rp, leg, redirectUri);
          assertKubeSphereClaims(tokens.claims()!);
          await assertRs256WithPublishedKid(rp, tokens.id_token!);
          const next = await client.refreshTokenGrant(rp, tokens.refresh_token!);
          assert.equal(next.claims()?.sub, tokens.claims()?.sub, `refresh works for the public client (${redirectUri})`);
        }
      });
    }

    it('refuses a public client without PKCE (error back to the client with its state)', async () => {
      const rp = await relyingParty(bridge.issuer, 'kubectl', 'none');
      const before = UPSTREAM_IDS.map((id) => authorizeCount(doubles, id));
      const leg = await login(rp, { redirectUri: KUBECTL_REDIRECTS[0], state: 'no-pkce' });
      assert.equal(leg.callback.searchParams.get('error'), 'invalid_request');
      assert.equal(leg.callback.searchParams.get('state'), 'no-pkce');
      assert.deepEqual(
        UPSTREAM_IDS.map((id) => authorizeCount(doubles, id)),
        before,
        'no upstream was asked',
      );
    });
  });
}
