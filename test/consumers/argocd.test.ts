// Argo CD with the argocd-cm and argocd-rbac-cm of docs/connect-your-tools.md, against real tokens:
// the UI's login (confidential, PKCE, requestedScopes, requestedIDTokenClaims as the claims
// parameter), the CLI's (public, PKCE, http://localhost:<port>/auth/callback, offline_access), and
// what Argo CD then does with the ID token (util/oidc/provider.go, util/settings/settings.go,
// util/jwt/jwt.go, server/rbacpolicy/rbacpolicy.go; docs/reference/consumers.md): iss exact, the
// signature, aud in clientID + cliClientID, groups read as strings, policy.csv matched exactly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { parse as parseYaml } from 'yaml';
import { sampleUserids } from '../../src/sandbox/index.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { DOC_ISSUER, docClient, snippet } from './doc-snippets.js';

interface OidcConfig {
  issuer: string;
  clientID: string;
  cliClientID?: string;
  allowedAudiences?: string[];
  requestedScopes?: string[];
  requestedIDTokenClaims?: Record<string, unknown>;
  enablePKCEAuthentication?: boolean;
  logoutURL?: string;
}

const argocdCm = parseYaml(snippet('argocd-cm')) as { data: Record<string, string> };
const oidcConfig = parseYaml(argocdCm.data['oidc.config']!) as OidcConfig;
const rbacCm = parseYaml(snippet('argocd-rbac-cm')) as { data: Record<string, string> };
const rbacScopes = parseYaml(rbacCm.data.scopes!) as string[];

/** util/jwt GetScopeValues: strings, arrays of strings (other elements dropped), nothing else. */
function scopeValues(claims: JWTPayload, scopes: string[]): string[] {
  return scopes.flatMap((scope) => {
    const value = claims[scope];
    if (typeof value === 'string') return [value];
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
    return [];
  });
}

/** The `g, <subject>, <role>` lines of policy.csv (casbin CSV: fields trimmed, quotes removed). */
function groupBindings(csv: string): [string, string][] {
  return csv
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('g,'))
    .map((line) => {
      const fields = [...line.matchAll(/\s*("([^"]*)"|[^,]*)\s*(,|$)/g)].map((m) => (m[2] ?? m[1] ?? '').trim()).filter(Boolean);
      return [fields[1]!, fields[2]!];
    });
}

function rolesOf(claims: JWTPayload): string[] {
  const groups = scopeValues(claims, rbacScopes);
  return groupBindings(rbacCm.data['policy.csv']!)
    .filter(([subject]) => groups.includes(subject))
    .map(([, role]) => role);
}

describe('Argo CD with the documented oidc.config and RBAC', () => {
  let fb: DingTalkBridge;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  let issuer: string;

  before(async () => {
    fb = await startBridge({
      upstream: 'dingtalk',
      store: 'memory',
      clients: [docClient('argocd-client', 'argocd'), docClient('argocd-client', 'argocd-cli'), docClient('grafana-client', 'grafana')],
    });
    issuer = oidcConfig.issuer.replace(DOC_ISSUER, fb.issuer);
    jwks = createRemoteJWKSet(new URL(`${fb.issuer}/jwks`));
  });
  after(async () => {
    await fb?.close();
  });

  /** provider.go Verify: iss exact, signature, expiry, and aud in allowedAudiences (default clientID + cliClientID). */
  async function argoVerify(idToken: string): Promise<JWTPayload> {
    const allowed = oidcConfig.allowedAudiences?.length
      ? oidcConfig.allowedAudiences
      : [oidcConfig.clientID, ...(oidcConfig.cliClientID ? [oidcConfig.cliClientID] : [])];
    const { payload } = await jwtVerify(idToken, jwks, { issuer, audience: allowed });
    return payload;
  }

  /** The UI's login: requestedScopes, the claims parameter from requestedIDTokenClaims, PKCE. */
  async function uiLogin(userid: string) {
    const login = await fb.loginAs(userid, 'argocd', {
      scope: (oidcConfig.requestedScopes ?? ['openid', 'profile', 'email', 'groups']).join(' '),
      pkce: oidcConfig.enablePKCEAuthentication === true,
      extra: { claims: JSON.stringify({ id_token: oidcConfig.requestedIDTokenClaims }) },
    });
    return fb.tokens(login);
  }

  it('names the client ids of the documented client entries', () => {
    assert.equal(oidcConfig.clientID, 'argocd');
    assert.equal(oidcConfig.cliClientID, 'argocd-cli');
    assert.equal(oidcConfig.allowedAudiences, undefined);
    assert.deepEqual(rbacScopes, ['groups']);
  });

  it('gives the UI an ID token Argo CD accepts, with groups as a string array bound in policy.csv', async () => {
    const tokens = await uiLogin(sampleUserids.wangFangPlatform);
    const claims = await argoVerify(tokens.id_token!);
    assert.equal(claims.aud, 'argocd');
    assert.ok(Array.isArray(claims.groups) && claims.groups.every((g) => typeof g === 'string'), JSON.stringify(claims.groups));
    assert.ok(claims.groups.includes('dingtalk:研发中心/平台组'));
    assert.deepEqual(rolesOf(claims).sort(), ['role:admin', 'role:readonly']);
    // The RBAC subject is sub: stable, never the name.
    assert.match(String(claims.sub), /^[a-z2-7]{52}$/);
  });

  it('binds 研发中心 read-only and leaves other departments without a role', async () => {
    const manager = await argoVerify((await uiLogin(sampleUserids.manager)).id_token!);
    assert.deepEqual(rolesOf(manager), ['role:readonly']);
    const marketing = await argoVerify((await uiLogin(sampleUserids.wangFangMarketing)).id_token!);
    assert.deepEqual(rolesOf(marketing), []);
  });

  it('refuses the UI login without PKCE (requirePkce matches enablePKCEAuthentication)', async () => {
    const login = await fb.loginAs(sampleUserids.manager, 'argocd', { scope: 'openid groups', pkce: false });
    assert.equal(login.code, undefined);
    assert.equal(login.redirect?.searchParams.get('error'), 'invalid_request');
    assert.match(login.redirect?.searchParams.get('error_description') ?? '', /PKCE/);
  });

  it('lets the CLI sign in as a public client on any loopback port, with a refresh token', async () => {
    // argocd login --sso: localhost:8085 by default, another port with --sso-port.
    for (const redirectUri of ['http://localhost:8085/auth/callback', 'http://localhost:9191/auth/callback']) {
      const login = await fb.loginAs(sampleUserids.wangFangPlatform, 'argocd-cli', {
        scope: 'openid profile email groups offline_access',
        redirectUri,
        pkce: true,
        extra: { access_type: 'offline' },
      });
      assert.ok(login.redirect, `${redirectUri}: ${login.page?.status ?? ''}`);
      const tokens = await fb.tokens(login);
      const claims = await argoVerify(tokens.id_token!);
      assert.equal(claims.aud, 'argocd-cli');
      assert.deepEqual(rolesOf(claims).sort(), ['role:admin', 'role:readonly']);
      assert.ok(tokens.refresh_token, 'the CLI keeps a refresh token');
    }
  });

  it('does not accept an ID token issued to another client (aud)', async () => {
    const login = await fb.loginAs(sampleUserids.wangFangPlatform, 'grafana', { scope: 'openid groups', pkce: true });
    const tokens = await fb.tokens(login);
    await assert.rejects(argoVerify(tokens.id_token!), /aud/);
  });

  it('logs out through the documented logoutURL: end_session_endpoint with id_token_hint and the registered URL', async () => {
    const discovery = (await (await fetch(`${fb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const tokens = await uiLogin(sampleUserids.manager);
    // server/logout/logout.go: {{token}} is the ID token, {{logoutRedirectURL}} is url without a trailing slash.
    const logoutRedirectURL = argocdCm.data.url!.replace(/\/+$/, '');
    const url = new URL(
      oidcConfig
        .logoutURL!.replace(DOC_ISSUER, fb.issuer)
        .replace('{{token}}', tokens.id_token!)
        .replace('{{logoutRedirectURL}}', encodeURIComponent(logoutRedirectURL)),
    );
    assert.equal(`${url.origin}${url.pathname}`, discovery.end_session_endpoint);
    const response = await fetch(url, { redirect: 'manual' });
    // The bridge asks the person to confirm (a page), never an error about the redirect URI.
    assert.equal(response.status, 200);
    assert.doesNotMatch(await response.text(), /post_logout_redirect_uri/i);
  });
});
