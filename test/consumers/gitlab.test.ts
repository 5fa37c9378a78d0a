// GitLab's OmniAuth openid_connect provider as docs/connect-your-tools.md configures it, against
// real tokens: the login the strategy makes (discovery, scope, nonce, PKCE, client_secret_basic),
// its ID token checks (iss, aud = identifier, nonce), the claims it merges (userinfo under the ID
// token), uid = the uid_field claim, and GitLab's use of them (lib/omniauth/strategies/openid_connect.rb,
// lib/gitlab/auth/o_auth/*; docs/reference/consumers.md).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { parse as parseYaml } from 'yaml';
import { sampleUserids } from '../../src/sandbox/index.js';
import { Browser } from '../helpers/http-browser.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { DOC_ISSUER, SNIPPET_ENV, docClient, snippet } from './doc-snippets.js';

interface Provider {
  name: string;
  args: {
    issuer: string;
    discovery: boolean;
    scope: string[];
    uid_field: string;
    pkce: boolean;
    client_auth_method: string;
    client_options: {
      identifier: string;
      redirect_uri: string;
      gitlab?: { groups_attribute: string; required_groups?: string[]; admin_groups?: string[] };
    };
  };
}

const provider = parseYaml(snippet('gitlab-provider')) as Provider;
const { args } = provider;

describe('GitLab openid_connect with the documented provider', () => {
  let fb: DingTalkBridge;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', clients: [docClient('gitlab-client', 'gitlab')] });
    jwks = createRemoteJWKSet(new URL(`${fb.issuer}/jwks`));
  });
  after(async () => {
    await fb?.close();
  });

  /** The strategy's login and callback: returns what GitLab's auth hash is built from. */
  async function gitlabLogin(userid: string, browser = new Browser()) {
    const login = await fb.loginAs(userid, args.client_options.identifier, { scope: args.scope.join(' '), pkce: args.pkce, browser });
    assert.ok(login.checks.nonce, 'the strategy sends a nonce (send_nonce)');
    const tokens = await fb.tokens(login);
    // verify_id_token!: issuer, client_id (aud), nonce; the signature against jwks_uri.
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, {
      issuer: args.issuer.replace(DOC_ISSUER, fb.issuer),
      audience: args.client_options.identifier,
    });
    assert.equal(payload.nonce, login.checks.nonce);
    assert.equal(protectedHeader.alg, 'RS256');
    const userinfo = (await client.fetchUserInfo(await fb.rp('gitlab'), tokens.access_token, String(payload.sub))) as Record<
      string,
      unknown
    >;
    // user_info: userinfo's raw attributes merged with the ID token's (the ID token wins).
    const raw: Record<string, unknown> = { ...userinfo, ...payload };
    return { raw, idToken: payload, tokens };
  }

  /** OmniAuth's uid and info, then GitLab's AuthHash and OIDC group settings. */
  function gitlabView(raw: Record<string, unknown>) {
    const uid = (raw[args.uid_field] as string | undefined) ?? (raw.sub as string);
    const username = (raw.preferred_username as string | undefined) || (raw.email as string | undefined)?.split('@')[0] || '';
    const email = (raw.email as string | undefined) || `temp-email-for-oauth-${username}@gitlab.localhost`;
    const settings = args.client_options.gitlab!;
    const groups = raw[settings.groups_attribute];
    const list = Array.isArray(groups) ? (groups as string[]) : [];
    return {
      uid,
      username,
      email,
      allowed: !settings.required_groups?.length || settings.required_groups.some((g) => list.includes(g)),
      admin: (settings.admin_groups ?? []).some((g) => list.includes(g)),
    };
  }

  it('uses discovery, the sub as uid and PKCE, as the client entry requires', () => {
    assert.equal(args.discovery, true);
    assert.equal(args.uid_field, 'sub');
    assert.equal(args.pkce, true);
    assert.equal(args.client_options.identifier, 'gitlab');
    assert.equal(args.client_auth_method, 'basic');
    assert.equal(docClient('gitlab-client', 'gitlab').token_endpoint_auth_method, undefined, 'the bridge default, client_secret_basic');
    assert.equal(args.client_options.redirect_uri, docClient('gitlab-client', 'gitlab').redirect_uris?.[0]);
  });

  it('gives a stable uid (sub) across logins, a nickname from preferred_username and a confirmed email', async () => {
    const first = gitlabView((await gitlabLogin(sampleUserids.wangFangPlatform)).raw);
    const again = await gitlabLogin(sampleUserids.wangFangPlatform);
    const second = gitlabView(again.raw);
    assert.equal(second.uid, first.uid);
    assert.equal(first.uid, again.idToken.sub);
    assert.match(first.uid, /^[a-z2-7]{52}$/);
    assert.equal(first.username, again.idToken.preferred_username);
    // GitLab creates the user with this email and skips confirmation: it must be verified.
    assert.equal(again.idToken.email_verified, true);
    assert.equal(first.email, again.idToken.email);
  });

  it('sends no email at all for a person without a verified one (GitLab then uses a placeholder)', async () => {
    const { raw, idToken } = await gitlabLogin(sampleUserids.noEmail);
    assert.equal(raw.email, undefined);
    assert.equal(raw.email_verified, undefined);
    assert.match(gitlabView(raw).email, /^temp-email-for-oauth-.+@gitlab\.localhost$/);
    assert.equal(gitlabView(raw).uid, idToken.sub);
  });

  it('applies required_groups and admin_groups to the groups claim', async () => {
    const platform = gitlabView((await gitlabLogin(sampleUserids.wangFangPlatform)).raw);
    assert.deepEqual([platform.allowed, platform.admin], [true, true]);
    const manager = gitlabView((await gitlabLogin(sampleUserids.manager)).raw);
    assert.deepEqual([manager.allowed, manager.admin], [true, false]);
    const marketing = gitlabView((await gitlabLogin(sampleUserids.wangFangMarketing)).raw);
    assert.equal(marketing.allowed, false);
  });

  it("accepts the secret in the body too (client_auth_method: query, as GitLab's docs show)", async () => {
    const login = await fb.loginAs(sampleUserids.manager, 'gitlab', { scope: 'openid', pkce: true });
    const exchange = (secret: string) =>
      fetch(`${fb.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: login.code!,
          redirect_uri: login.redirectUri,
          code_verifier: login.checks.codeVerifier!,
          client_id: 'gitlab',
          client_secret: secret,
        }),
      });
    const wrong = await exchange('not-the-secret');
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_client');
    const right = await exchange(SNIPPET_ENV.GITLAB_CLIENT_SECRET!);
    assert.equal(right.status, 200);
    assert.ok(((await right.json()) as { id_token?: string }).id_token);
  });

  it('accepts the scope parameter at the token endpoint too (send_scope_to_token_endpoint may stay on)', async () => {
    const login = await fb.loginAs(sampleUserids.manager, 'gitlab', { scope: args.scope.join(' '), pkce: true });
    const tokens = await client.authorizationCodeGrant(
      await fb.rp('gitlab'),
      login.redirect!,
      { expectedState: login.checks.state, expectedNonce: login.checks.nonce, pkceCodeVerifier: login.checks.codeVerifier },
      { scope: args.scope.join(' ') },
    );
    const claims = tokens.claims() as JWTPayload;
    assert.equal(claims.aud, 'gitlab');
  });
});
