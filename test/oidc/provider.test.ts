/**
 * The protocol surface end to end, with openid-client as the relying party, on the memory store
 * and on Redis: discovery, the code flow (confidential and public clients), ID token, userinfo,
 * refresh rotation, revocation, introspection and the authorization request's own checks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';
import { authorize, basic, KUBESPHERE_STATE, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';

const WEB_CB = `${RP}/cb`;
const CLI_CB = 'http://127.0.0.1:8000/cb';

for (const kind of ['memory', 'redis'] as const) {
  describe(`protocol flows on the ${kind} store`, () => {
    let bridge: Bridge;
    let discovery: Record<string, unknown>;
    before(async () => {
      bridge = await startBridge({ store: kind });
      discovery = (await (await fetch(`${bridge.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    });
    after(() => bridge.close());

    it('advertises only what is configured: code, S256, iss, RS256, logout, claims', () => {
      assert.equal(discovery.issuer, bridge.issuer);
      assert.deepEqual(discovery.response_types_supported, ['code']);
      assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
      assert.equal(discovery.authorization_response_iss_parameter_supported, true);
      assert.ok((discovery.id_token_signing_alg_values_supported as string[]).includes('RS256'));
      assert.equal(discovery.end_session_endpoint, `${bridge.issuer}/session/end`);
      assert.equal(discovery.backchannel_logout_supported, true);
      assert.equal(discovery.introspection_endpoint, `${bridge.issuer}/token/introspection`);
      assert.equal(discovery.revocation_endpoint, `${bridge.issuer}/token/revocation`);
      assert.deepEqual(discovery.grant_types_supported, ['authorization_code', 'refresh_token']);
      for (const scope of ['openid', 'profile', 'email', 'phone', 'offline_access', 'groups', 'dingtalk']) {
        assert.ok((discovery.scopes_supported as string[]).includes(scope), scope);
      }
      for (const claim of ['preferred_username', 'email_verified', 'phone_number', 'groups', 'dingtalk_userid', 'job_number']) {
        assert.ok((discovery.claims_supported as string[]).includes(claim), claim);
      }
      assert.equal(discovery.request_parameter_supported ?? false, false);
      assert.equal(discovery.pushed_authorization_request_endpoint, undefined);
    });

    it('publishes only public keys', async () => {
      const jwks = (await (await fetch(`${bridge.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
      assert.deepEqual(
        jwks.keys.map((k) => k.alg),
        ['RS256', 'ES256'],
      );
      for (const key of jwks.keys) assert.equal(key.d, undefined);
    });

    it('runs the confidential code flow without PKCE and a constant state, RS256 ID token with the requested claims', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens, callback } = await signIn(rp, {
        redirectUri: WEB_CB,
        state: KUBESPHERE_STATE,
        scope: 'openid profile email phone groups dingtalk',
      });
      assert.equal(callback.searchParams.get('iss'), bridge.issuer, 'RFC 9207 iss in the authorization response');
      assert.equal(callback.searchParams.get('state'), KUBESPHERE_STATE);
      assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
      const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${bridge.issuer}/jwks`)), {
        issuer: bridge.issuer,
        audience: 'web',
      });
      assert.equal(payload.sub, 'alice-sub-1');
      assert.equal(payload.preferred_username, 'alice');
      assert.equal(payload.email, 'alice@example.test');
      assert.equal(payload.email_verified, true);
      assert.equal(payload.phone_number, '+8613800000000');
      assert.deepEqual(payload.groups, ['ding:test:研发中心', 'ding:test:研发中心/平台组']);
      assert.equal(payload.dingtalk_userid, 'manager4220');
      assert.ok(!JSON.stringify(payload).includes('never-in-a-token'), 'connectorData stays server-side');
      assert.ok(tokens.refresh_token, 'a client with the refresh_token grant gets one without offline_access');
    });

    it('uses the configured lifetimes', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB });
      assert.equal(tokens.expires_in, bridge.config.ttl.accessToken);
      const claims = tokens.claims()!;
      assert.equal(claims.exp - claims.iat, bridge.config.ttl.idToken);
    });

    it('keeps offline_access when consent is part of the request, and issues refresh tokens either way', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const withConsent = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid offline_access', extra: { prompt: 'consent' } });
      assert.ok(withConsent.tokens.scope?.split(' ').includes('offline_access'), withConsent.tokens.scope);
      assert.ok(withConsent.tokens.refresh_token);
      const without = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid offline_access' });
      assert.ok(!without.tokens.scope?.split(' ').includes('offline_access'), 'oidc-provider drops it without prompt=consent');
      assert.ok(without.tokens.refresh_token);
    });

    it('keeps claims of scopes not requested out of the ID token', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid' });
      const claims = tokens.claims()!;
      assert.equal(claims.sub, 'alice-sub-1');
      assert.equal(claims.email, undefined);
      assert.equal(claims.groups, undefined);
    });

    it('accepts the authorization request as a form POST', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid profile', post: true });
      assert.equal(tokens.claims()!.preferred_username, 'alice');
    });

    it('requires PKCE from public clients', async () => {
      const rp = await rpFor(bridge, 'cli');
      const { callback } = await authorize(rp, { redirectUri: CLI_CB, scope: 'openid' });
      assert.equal(callback.searchParams.get('error'), 'invalid_request');
      assert.match(callback.searchParams.get('error_description') ?? '', /PKCE/);
    });

    it('runs the public client flow with PKCE (loopback redirect on any port) and rotates refresh tokens', async () => {
      const rp = await rpFor(bridge, 'cli');
      const redirectUri = 'http://127.0.0.1:18000/cb';
      const { tokens } = await signIn(rp, { redirectUri, scope: 'openid profile groups offline_access', pkce: true });
      assert.equal(tokens.claims()!.preferred_username, 'alice');
      const first = tokens.refresh_token!;
      const refreshed = await client.refreshTokenGrant(rp, first);
      assert.ok(refreshed.refresh_token && refreshed.refresh_token !== first, 'rotated');
      assert.equal(refreshed.claims()!.sub, 'alice-sub-1');
      const again = await client.refreshTokenGrant(rp, refreshed.refresh_token);
      assert.ok(again.access_token);
    });

    it('accepts PKCE from a confidential client and checks the verifier', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, pkce: true });
      assert.ok(tokens.id_token);
      const { callback } = await authorize(rp, { redirectUri: WEB_CB, pkce: true });
      const res = await postForm(
        `${bridge.issuer}/token`,
        {
          grant_type: 'authorization_code',
          code: callback.searchParams.get('code')!,
          redirect_uri: WEB_CB,
          code_verifier: 'a'.repeat(43),
        },
        { authorization: basic('web', 'web-secret') },
      );
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    });

    it('answers userinfo with the granted claims only', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid email' });
      const info = await client.fetchUserInfo(rp, tokens.access_token, 'alice-sub-1');
      assert.equal(info.email, 'alice@example.test');
      assert.equal(info.preferred_username, undefined);
    });

    it('introspects: own token active, another client sees it inactive, a resource server sees it', async () => {
      const web = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(web, { redirectUri: WEB_CB, scope: 'openid' });
      const own = await client.tokenIntrospection(web, tokens.access_token);
      assert.equal(own.active, true);
      assert.equal(own.client_id, 'web');
      const other = await client.tokenIntrospection(await rpFor(bridge, 'other', { secret: 'other-secret' }), tokens.access_token);
      assert.equal(other.active, false);
      assert.equal(other.sub, undefined);
      const rs = await client.tokenIntrospection(await rpFor(bridge, 'rs', { secret: 'rs-secret' }), tokens.access_token);
      assert.equal(rs.active, true);
      assert.equal(rs.sub, 'alice-sub-1');
    });

    it('revokes access and refresh tokens (RFC 7009)', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid' });
      await client.tokenRevocation(rp, tokens.access_token);
      assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, false);
      await client.tokenRevocation(rp, tokens.refresh_token!);
      const res = await postForm(
        `${bridge.issuer}/token`,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
        { authorization: basic('web', 'web-secret') },
      );
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    });

    it("refuses to revoke another client's token", async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid' });
      const res = await postForm(
        `${bridge.issuer}/token/revocation`,
        { token: tokens.access_token },
        { authorization: basic('other', 'other-secret') },
      );
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, true);
    });

    it("lets a public client revoke nothing of another client's: the answer says nothing, both tokens keep working (RFC 7009 §2.1)", async () => {
      const web = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { tokens } = await signIn(web, { redirectUri: WEB_CB, scope: 'openid offline_access' });
      for (const token of [tokens.access_token, tokens.refresh_token!]) {
        // A public client authenticates with its client_id alone: anyone can send this request.
        const res = await postForm(`${bridge.issuer}/token/revocation`, { token, client_id: 'cli' });
        assert.equal(res.status, 200, 'no hint whether the token exists');
      }
      assert.equal((await client.tokenIntrospection(web, tokens.access_token)).active, true);
      const refreshed = await client.refreshTokenGrant(web, tokens.refresh_token!);
      assert.ok(refreshed.access_token, "web's refresh token still redeems");
    });

    it('sends no CORS grant to a browser origin at /token for a confidential client, and refuses the request', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const { callback } = await authorize(rp, { redirectUri: WEB_CB });
      // The client's own redirect origin: even that one gets no Access-Control-Allow-Origin, since a
      // confidential client's secret never belongs in a browser.
      const res = await postForm(
        `${bridge.issuer}/token`,
        { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: WEB_CB },
        { authorization: basic('web', 'web-secret'), origin: RP },
      );
      assert.equal(res.headers.get('access-control-allow-origin'), null);
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
    });

    it('grants CORS at /token to a public client from its own redirect origin only', async () => {
      const rp = await rpFor(bridge, 'cli');
      const tokenFrom = async (origin: string) => {
        const { callback, codeVerifier } = await authorize(rp, { redirectUri: CLI_CB, pkce: true });
        const form = {
          grant_type: 'authorization_code',
          code: callback.searchParams.get('code')!,
          redirect_uri: CLI_CB,
          client_id: 'cli',
          code_verifier: codeVerifier!,
        };
        return postForm(`${bridge.issuer}/token`, form, { origin });
      };
      const own = await tokenFrom('http://127.0.0.1:8000');
      assert.equal(own.status, 200);
      assert.equal(own.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8000');
      const foreign = await tokenFrom('https://evil.example.test');
      assert.equal(foreign.headers.get('access-control-allow-origin'), null);
      assert.equal(foreign.status, 400);
    });

    it('signs ID tokens with ES256 for a client registered for it', async () => {
      const rp = await rpFor(bridge, 'es', { secret: 'es-secret' });
      const { tokens } = await signIn(rp, { redirectUri: 'https://es.example.test/cb', scope: 'openid' });
      assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'ES256');
    });

    it('reuses the browser session: a second client signs in without a new login prompt', async () => {
      const browser = new Browser();
      const before = bridge.interactions.length;
      await signIn(await rpFor(bridge, 'web', { secret: 'web-secret' }), { redirectUri: WEB_CB, browser });
      await signIn(await rpFor(bridge, 'es', { secret: 'es-secret' }), { redirectUri: 'https://es.example.test/cb', browser });
      const prompts = bridge.interactions.slice(before).map((i) => i.prompt);
      // The first client's grant comes with the login (a skipConsent client); the second, on the
      // same browser session, gets no login prompt, only its own consent.
      assert.deepEqual(prompts, ['login', 'consent']);
    });

    it('grants a first-party client with its login only the scopes and claims the bridge serves', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      const claims = JSON.stringify({ userinfo: { email: null, admin_level: null } });
      const { tokens } = await signIn(rp, { redirectUri: WEB_CB, scope: 'openid profile admin', extra: { claims } });
      assert.deepEqual(String(tokens.scope).split(' ').sort(), ['openid', 'profile']);
      const grant = await bridge.bundle.provider.Grant.find((await bridge.bundle.provider.AccessToken.find(tokens.access_token))!.grantId);
      assert.deepEqual(grant!.getOIDCClaims().sort(), ['email']);
    });

    it('passes upstream=<id> on to the interaction and refuses an upstream the client may not use', async () => {
      const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
      await signIn(rp, { redirectUri: WEB_CB, extra: { upstream: 'test', ui_locales: 'en' } });
      const last = bridge.interactions.at(-1)!;
      assert.equal(last.params.upstream, 'test');
      assert.equal(last.params.ui_locales, 'en');
      const { callback } = await authorize(rp, { redirectUri: WEB_CB, extra: { upstream: 'nope' } });
      assert.equal(callback.searchParams.get('error'), 'invalid_request');
      assert.match(callback.searchParams.get('error_description') ?? '', /upstream/);
    });
  });
}
