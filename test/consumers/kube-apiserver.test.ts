// kube-apiserver's OIDC authenticator with the flags of docs/clients.md, against ID tokens a
// kubelogin-style login gets from the bridge (public client, PKCE, loopback redirect, the extra
// scopes and prompt=consent of the documented kubeconfig), before and after a refresh. The rules
// (docs/reference/kubernetes.md): signed with an algorithm of --oidc-signing-algs (RS256), `iss`
// exactly --oidc-issuer-url, `aud` containing --oidc-client-id, the username claim present (and
// `email_verified` true when it is `email`), the groups claim a string or an array of strings.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { sampleUserids } from '../../src/sandbox/index.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { kubectlClient } from '../helpers/dingtalk-login.js';

// The browser kubeconfig of docs/clients.md: the device flow's own kubeconfig follows it.
const CLIENTS_DOC = readFileSync(fileURLToPath(new URL('../../docs/clients.md', import.meta.url)), 'utf8').split(
  '### Without a browser',
)[0]!;
const DOC_ISSUER = 'https://sso.example.com';

/** The kube-apiserver flags docs/clients.md gives (`--oidc-<name>=<value>`). */
function documentedFlags(): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const m of CLIENTS_DOC.matchAll(/^--oidc-([a-z-]+)=(\S+)$/gm)) flags[m[1]!] = m[2]!;
  return flags;
}

/** The scopes kubelogin requests with the documented kubeconfig: openid plus each --oidc-extra-scope. */
function documentedScopes(): string {
  const extra = [...CLIENTS_DOC.matchAll(/--oidc-extra-scope=([\w:]+)/g)].map((m) => m[1]!);
  return ['openid', ...extra].join(' ');
}

/** The extra authorization parameters of the documented kubeconfig. */
function documentedExtraParams(): Record<string, string> {
  const params = /--oidc-auth-request-extra-params=(\S+?)[,\]\s]/.exec(CLIENTS_DOC)?.[1] ?? '';
  return Object.fromEntries(
    params
      .split(',')
      .filter(Boolean)
      .map((p) => p.split('=') as [string, string]),
  );
}

interface ApiServerUser {
  username: string;
  groups: string[];
}

describe('kube-apiserver OIDC rules with the documented flags', () => {
  let fb: DingTalkBridge;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  const flags = documentedFlags();

  before(async () => {
    // One client per cluster: a second cluster's client, to show its tokens are refused here.
    fb = await startBridge({
      upstream: 'dingtalk',
      store: 'memory',
      clients: [kubectlClient(), { ...kubectlClient(), client_id: 'kubectl-prod' }],
    });
    jwks = createRemoteJWKSet(new URL(`${fb.issuer}/jwks`));
  });
  after(async () => {
    await fb?.close();
  });

  /** The authenticator, as the legacy flags configure it, over a bearer ID token. */
  async function authenticate(idToken: string, overrides: Record<string, string> = {}): Promise<ApiServerUser> {
    const f = { ...flags, ...overrides };
    const algorithms = (f['signing-algs'] ?? 'RS256').split(',');
    const { payload } = await jwtVerify(idToken, jwks, {
      issuer: f['issuer-url']!.replace(DOC_ISSUER, fb.issuer),
      audience: f['client-id']!,
      algorithms,
    });
    const claim = f['username-claim'] ?? 'sub';
    const value = payload[claim];
    if (typeof value !== 'string' || value === '') throw new Error(`oidc: parse username claims "${claim}": claim not present`);
    if (claim === 'email' && 'email_verified' in payload && payload.email_verified !== true) throw new Error('oidc: email not verified');
    const prefix = f['username-prefix'] ?? (claim === 'email' ? '-' : `${f['issuer-url']}#`);
    const username = prefix === '-' ? value : `${prefix}${value}`;
    const groupsClaim = f['groups-claim'];
    const raw: unknown = groupsClaim ? payload[groupsClaim] : undefined;
    let groups: string[] = [];
    if (typeof raw === 'string') groups = [raw];
    else if (Array.isArray(raw)) {
      if (!raw.every((g) => typeof g === 'string')) throw new Error('oidc: parse groups claim: not a string array');
      groups = raw;
    } else if (raw !== undefined) throw new Error('oidc: parse groups claim: unexpected type');
    return { username, groups: groups.map((g) => `${f['groups-prefix'] ?? ''}${g}`) };
  }

  /** kubelogin's browser login with the documented kubeconfig's extra scopes and parameters. */
  async function kubelogin(userid: string, clientId = 'kubectl', scope = documentedScopes()) {
    const login = await fb.loginAs(userid, clientId, { scope, pkce: true, extra: documentedExtraParams() });
    return fb.tokens(login);
  }

  it('documents the flags the rules need', () => {
    assert.equal(flags['issuer-url'], DOC_ISSUER);
    assert.equal(flags['client-id'], 'kubectl');
    assert.equal(flags['username-claim'], 'preferred_username');
    assert.equal(flags['username-prefix'], '-');
    assert.equal(flags['groups-claim'], 'groups');
    // preferred_username is released by the profile scope, groups by groups.
    assert.deepEqual(documentedScopes().split(' ').sort(), ['groups', 'offline_access', 'openid', 'profile']);
    assert.deepEqual(documentedExtraParams(), { prompt: 'consent' });
  });

  it('accepts the ID token: RS256, iss exact, aud, preferred_username as the user, namespaced groups', async () => {
    const tokens = await kubelogin(sampleUserids.wangFangPlatform);
    const user = await authenticate(tokens.id_token!);
    const payload = tokens.claims() as JWTPayload;
    assert.equal(user.username, payload.preferred_username);
    assert.match(user.username, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    assert.ok(user.groups.includes('dingtalk:研发中心/平台组'), user.groups.join());
    assert.ok(user.groups.every((g) => g.startsWith('dingtalk:') && !g.startsWith('system:')));
  });

  it('still accepts the ID token a refresh returns (kubelogin refreshes when it expires)', async () => {
    const tokens = await kubelogin(sampleUserids.manager);
    assert.ok(tokens.refresh_token);
    const refreshed = await client.refreshTokenGrant(await fb.rp('kubectl'), tokens.refresh_token);
    const before = await authenticate(tokens.id_token!);
    const after = await authenticate(refreshed.id_token!);
    assert.deepEqual(after, before);
  });

  it("refuses a token of another cluster's client, and one whose iss differs by a trailing slash", async () => {
    const other = await kubelogin(sampleUserids.manager, 'kubectl-prod');
    await assert.rejects(authenticate(other.id_token!), /aud/);
    const own = await kubelogin(sampleUserids.manager);
    await assert.rejects(authenticate(own.id_token!, { 'issuer-url': `${DOC_ISSUER}/` }), /iss/);
  });

  it('with --oidc-username-claim=email: admits a verified email, refuses a person without one', async () => {
    // --oidc-extra-scope=email as well: the email claim is released by the email scope.
    const withEmail = `${documentedScopes()} email`;
    const verified = await kubelogin(sampleUserids.manager, 'kubectl', withEmail);
    const payload = verified.claims() as JWTPayload;
    assert.equal(payload.email_verified, true);
    assert.equal((await authenticate(verified.id_token!, { 'username-claim': 'email', 'username-prefix': '-' })).username, payload.email);
    const none = await kubelogin(sampleUserids.noEmail, 'kubectl', withEmail);
    await assert.rejects(authenticate(none.id_token!, { 'username-claim': 'email' }), /claim not present/);
  });

  it('refuses tokens signed with an algorithm outside --oidc-signing-algs', async () => {
    const tokens = await kubelogin(sampleUserids.manager);
    await assert.rejects(authenticate(tokens.id_token!, { 'signing-algs': 'ES256' }), /alg/);
  });
});
