/**
 * RFC 9700 (OAuth 2.0 Security Best Current Practice) as tests: the requirements no other test
 * proves yet. docs/security.md lists every requirement with the test that proves it, here or
 * elsewhere (test/conformance, test/oidc, test/integration, test/interactions, test/upstreams).
 * https://www.rfc-editor.org/rfc/rfc9700
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { testClock } from '../helpers/clock.js';
import { authorize, basic, postForm, rpFor } from '../helpers/oidc-rp.js';

const WEB_CB = `${RP}/cb`;
const CLI_CB = 'http://127.0.0.1:8000/cb';

async function tokenError(res: Response): Promise<string> {
  assert.equal(res.status, 400, `a client error, got ${res.status}`);
  return ((await res.json()) as { error: string }).error;
}

/** An authorization request that must end on the bridge's error page: no redirect anywhere. */
async function assertErrorPage(url: string, what: string): Promise<void> {
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.headers.get('location'), null, `${what}: never a redirect`);
  assert.equal(res.status, 400, what);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/, `${what}: a page`);
  await res.arrayBuffer();
}

describe('RFC 9700 on the authorization server leg (the bridge towards relying parties)', () => {
  let bridge: Bridge;
  const clock = testClock();
  before(async () => {
    bridge = await startBridge({ clock: clock.now });
  });
  after(() => bridge.close());

  const authUrl = (params: Record<string, string>) =>
    `${bridge.issuer}/auth?${new URLSearchParams({ response_type: 'code', scope: 'openid', state: 's', ...params })}`;

  // §2.1, §4.1.1: exact string matching, the loopback port of native clients the one exception (RFC 8252 §7.3).
  it('§4.1.1: matches redirect URIs exactly; a near miss gets the error page, never a redirect', async () => {
    const nearMisses = [
      `${RP}/cb/`,
      `${RP}/cb/../cb2`,
      `${RP}/cbx`,
      `${RP}/CB`,
      `${RP}:8443/cb`,
      `http://rp.example.test/cb`,
      'https://evil.rp.example.test/cb',
      'https://rp.example.test.evil.test/cb',
      'https://rp.example.test@evil.test/cb',
      `${RP}/cb?next=https://evil.test`,
      `${RP}/cb#x`,
    ];
    for (const uri of nearMisses) await assertErrorPage(authUrl({ client_id: 'web', redirect_uri: uri }), uri);
  });

  it('§2.1 / RFC 8252 §7.3: only the loopback port of a native client may vary; host, path and scheme may not', async () => {
    const rp = await rpFor(bridge, 'cli');
    const { callback } = await authorize(rp, { redirectUri: 'http://127.0.0.1:49152/cb', pkce: true });
    assert.ok(callback.searchParams.get('code'), 'another port is the same loopback redirect');
    for (const uri of [
      'http://localhost:8000/cb',
      'http://127.0.0.1:8000/other',
      'https://127.0.0.1:8000/cb',
      'http://127.0.0.2:8000/cb',
    ]) {
      await assertErrorPage(
        authUrl({ client_id: 'cli', redirect_uri: uri, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }),
        uri,
      );
    }
  });

  it('§2.1.1: PKCE method plain is refused; only S256 is offered', async () => {
    const rp = await rpFor(bridge, 'cli');
    const { callback } = await authorize(rp, {
      redirectUri: CLI_CB,
      extra: { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' },
    });
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.equal(callback.searchParams.get('code'), null);
  });

  it('§2.1.1: a code issued with a challenge is not redeemed without its verifier (downgrade)', async () => {
    const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { callback } = await authorize(rp, { redirectUri: WEB_CB, pkce: true });
    const res = await postForm(
      `${bridge.issuer}/token`,
      { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: WEB_CB },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(await tokenError(res), 'invalid_grant');
  });

  it('§2.1.1: a code issued without a challenge is not redeemed with a verifier (PKCE downgrade the other way)', async () => {
    const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { callback } = await authorize(rp, { redirectUri: WEB_CB });
    const res = await postForm(
      `${bridge.issuer}/token`,
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: WEB_CB,
        code_verifier: client.randomPKCECodeVerifier(),
      },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(await tokenError(res), 'invalid_grant');
  });

  it('§2.1.2: no implicit or hybrid response type', async () => {
    for (const responseType of ['token', 'id_token', 'id_token token', 'code token', 'code id_token']) {
      const res = await fetch(authUrl({ client_id: 'web', redirect_uri: WEB_CB, response_type: responseType, nonce: 'n' }), {
        redirect: 'manual',
      });
      const location = res.headers.get('location');
      assert.ok(location, responseType);
      const answer = new URL(location);
      const params = new URLSearchParams(answer.hash.slice(1) || answer.search);
      assert.equal(params.get('error'), 'unsupported_response_type', responseType);
      assert.equal(params.get('access_token'), null);
      assert.equal(params.get('id_token'), null);
    }
  });

  it('§2.4: no resource owner password credentials grant', async () => {
    const res = await postForm(
      `${bridge.issuer}/token`,
      { grant_type: 'password', username: 'alice', password: 'pw', scope: 'openid' },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(await tokenError(res), 'unsupported_grant_type');
  });

  it('§4.5: a code is bound to the redirect URI it was issued for', async () => {
    const rp = await rpFor(bridge, 'cli');
    const { callback, codeVerifier } = await authorize(rp, { redirectUri: CLI_CB, pkce: true });
    const res = await postForm(`${bridge.issuer}/token`, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: 'http://127.0.0.1:9000/cb',
      client_id: 'cli',
      code_verifier: codeVerifier!,
    });
    assert.equal(await tokenError(res), 'invalid_grant');
  });

  it('§4.5: a code is short-lived: one minute by default, refused after', async () => {
    assert.ok(bridge.config.ttl.authorizationCode <= 60, 'RFC 6749 §4.1.2: a maximum lifetime of 10 minutes, ours one');
    const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const { callback } = await authorize(rp, { redirectUri: WEB_CB });
    clock.advance((bridge.config.ttl.authorizationCode + 1) * 1000);
    const res = await postForm(
      `${bridge.issuer}/token`,
      { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: WEB_CB },
      { authorization: basic('web', 'web-secret') },
    );
    assert.equal(await tokenError(res), 'invalid_grant');
  });

  it('§4.4.2 / RFC 9207: iss is in every authorization response, error responses included', async () => {
    const rp = await rpFor(bridge, 'web', { secret: 'web-secret' });
    const ok = await authorize(rp, { redirectUri: WEB_CB });
    assert.ok(ok.callback.searchParams.get('code'));
    assert.equal(ok.callback.searchParams.get('iss'), bridge.issuer);
    const refused = await authorize(rp, { redirectUri: WEB_CB, extra: { upstream: 'no-such-upstream' } });
    assert.ok(refused.callback.searchParams.get('error'));
    assert.equal(refused.callback.searchParams.get('iss'), bridge.issuer);
  });
});

describe('RFC 9700 §1.4 / RFC 6749 §3.1: a TLS-only issuer in production', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tls-issuer-'));
  const configWith = (issuer: string) => {
    const path = join(dir, `${encodeURIComponent(issuer)}.yaml`);
    writeFileSync(
      path,
      `issuer: ${issuer}
store: { type: redis, url: "redis://127.0.0.1:6379", keyPrefix: "tls-issuer:" }
keys: { dir: "${join(dir, 'keys')}" }
cookieSecrets: ["${'c'.repeat(40)}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: key, clientSecret: secret, corpId: ding1 }
clients:
  - { client_id: kubesphere, client_secret: shh, redirect_uris: [https://ks.example.com/oauth/redirect/dingtalk] }
`,
    );
    return path;
  };
  const run = (args: string[], nodeEnv: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/oidc-bridge.js', ...args], {
        env: { ...process.env, OIDC_BRIDGE_CONFIG: '', NODE_ENV: nodeEnv },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.once('close', (code) => resolve({ code, stderr }));
    });

  for (const command of ['check', 'serve']) {
    it(`${command} refuses a plain-http issuer under NODE_ENV=production, saying why and what to do`, async () => {
      const { code, stderr } = await run([command, '--config', configWith('http://sso.example.com')], 'production');
      assert.equal(code, 1);
      assert.match(stderr, /issuer: http:\/\/sso\.example\.com is not https/);
      assert.match(stderr, /https:\/\//, 'names the fix');
      assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    });
  }

  it('check accepts a plain-http loopback issuer in production, and any http issuer outside production (with a warning)', async () => {
    for (const issuer of ['http://127.0.0.1:8080', 'http://[::1]:8080']) {
      const { code, stderr } = await run(['check', '--config', configWith(issuer)], 'production');
      assert.equal(code, 0, `${issuer}: ${stderr}`);
    }
    const { code, stderr } = await run(['check', '--config', configWith('http://sso.example.com')], 'development');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /warning: issuer: http:\/\/sso\.example\.com is not https/);
  });
});
