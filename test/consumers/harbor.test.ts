// Harbor's OIDC auth mode with the configuration of docs/connect-your-tools.md, against real tokens:
// the login as Harbor makes it (comma-separated oidc_scope, oidc_extra_redirect_parms, PKCE), then
// what src/pkg/oidc/helper.go and src/core/controllers/oidc.go do with the answer
// (docs/reference/consumers.md): sub + iss identify the user, the username from oidc_user_claim,
// groups from userinfo (else the ID token), filtered by oidc_group_filter, oidc_admin_group exact;
// and the refresh that keeps a CLI secret working.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { sampleUserids } from '../../src/sandbox/index.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { DOC_ISSUER, docClient, snippet } from './doc-snippets.js';

const harbor = JSON.parse(snippet('harbor-configurations')) as Record<string, string | boolean>;
/** common.IllegalCharsInUsername */
const ILLEGAL = /[,"~#%$]/;

interface HarborUser {
  subIss: string;
  username: string;
  email: string;
  groups: string[];
  admin: boolean;
}

/** userInfoFromClaims + mergeUserInfo + the onboarding's username fix-up + filterGroup. */
function harborUser(idToken: JWTPayload, userinfo: Record<string, unknown>): HarborUser {
  if (userinfo.sub !== idToken.sub) throw new Error('the subject from userinfo does not match the subject from ID token');
  const userClaim = harbor.oidc_user_claim as string;
  const claimed = typeof idToken[userClaim] === 'string' ? idToken[userClaim] : '';
  const username = (claimed || (userinfo.name as string) || (idToken.name as string) || '').replaceAll(' ', '_');
  const groupsOf = (claims: Record<string, unknown>) => {
    const value = claims[harbor.oidc_groups_claim as string];
    if (typeof value === 'string') return [value];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
  };
  const groups = groupsOf(userinfo) ?? groupsOf(idToken) ?? [];
  const filter = new RegExp(harbor.oidc_group_filter as string);
  return {
    subIss: `${String(idToken.sub)}${String(idToken.iss)}`,
    username,
    email: typeof userinfo.email === 'string' ? userinfo.email : '',
    groups: groups.filter((g) => filter.test(g)),
    admin: groups.includes(harbor.oidc_admin_group as string),
  };
}

describe('Harbor OIDC auth mode with the documented configuration', () => {
  let fb: DingTalkBridge;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  const scope = (harbor.oidc_scope as string)
    .split(',')
    .map((s) => s.trim())
    .join(' ');
  const extra = JSON.parse(harbor.oidc_extra_redirect_parms as string) as Record<string, string>;

  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', clients: [docClient('harbor-client', 'harbor')] });
    jwks = createRemoteJWKSet(new URL(`${fb.issuer}/jwks`));
  });
  after(async () => {
    await fb?.close();
  });

  async function harborLogin(userid: string, params: Record<string, string> = extra) {
    const login = await fb.loginAs(userid, 'harbor', { scope, pkce: true, extra: params });
    const tokens = await fb.tokens(login);
    // parseIDToken: signature and issuer (go-oidc), no client id or expiry check.
    const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: String(harbor.oidc_endpoint).replace(DOC_ISSUER, fb.issuer) });
    const userinfo = await client.fetchUserInfo(await fb.rp('harbor'), tokens.access_token, client.skipSubjectCheck);
    return { tokens, idToken: payload, userinfo: userinfo as Record<string, unknown> };
  }

  it('onboards 王芳 (平台组) as a Harbor administrator under her preferred_username', async () => {
    const { idToken, userinfo } = await harborLogin(sampleUserids.wangFangPlatform);
    const user = harborUser(idToken, userinfo);
    assert.equal(user.username, idToken.preferred_username);
    assert.doesNotMatch(user.username, ILLEGAL);
    assert.doesNotMatch(user.username, /\s/);
    assert.equal(user.admin, true);
    assert.ok(user.groups.includes('dingtalk:研发中心/平台组') && user.groups.every((g) => g.startsWith('dingtalk:')), user.groups.join());
    assert.equal(user.email, idToken.email);
    assert.equal(user.subIss, `${String(idToken.sub)}${fb.issuer}`);
  });

  it('would take the display name without oidc_user_claim, which is why the page sets it', async () => {
    const { idToken, userinfo } = await harborLogin(sampleUserids.manager);
    assert.equal(idToken.name, '张伟');
    const withoutClaim = (userinfo.name as string) || idToken.name;
    assert.equal(withoutClaim, '张伟');
    assert.notEqual(harborUser(idToken, userinfo).username, '张伟');
    assert.equal(harborUser(idToken, userinfo).admin, false);
  });

  it('gives the two people named 王芳 different usernames and identities', async () => {
    const a = await harborLogin(sampleUserids.wangFangPlatform);
    const b = await harborLogin(sampleUserids.wangFangMarketing);
    const ua = harborUser(a.idToken, a.userinfo);
    const ub = harborUser(b.idToken, b.userinfo);
    assert.notEqual(ua.username, ub.username);
    assert.notEqual(ua.subIss, ub.subIss);
  });

  it('grants offline_access with the documented prompt=consent, and refreshes as a CLI secret needs', async () => {
    const { tokens, idToken } = await harborLogin(sampleUserids.wangFangPlatform);
    assert.ok(tokens.refresh_token);
    assert.ok(tokens.scope?.split(' ').includes('offline_access'), tokens.scope);
    const refreshed = await client.refreshTokenGrant(await fb.rp('harbor'), tokens.refresh_token);
    assert.ok(refreshed.id_token, 'the refresh answer carries an ID token');
    assert.equal(refreshed.claims()?.sub, idToken.sub);
    assert.ok((refreshed.claims()?.groups as string[]).includes('dingtalk:研发中心/平台组'));
  });

  it('drops offline_access without prompt=consent (the refresh token then ends with the bridge session)', async () => {
    const { tokens } = await harborLogin(sampleUserids.manager, {});
    assert.ok(!tokens.scope?.split(' ').includes('offline_access'), tokens.scope);
    assert.ok(tokens.refresh_token, 'still a refresh token, bound to the browser session');
  });
});
