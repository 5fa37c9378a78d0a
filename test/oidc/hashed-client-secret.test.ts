// Client secrets given as `sha256:` digests (src/config/hashed-secret.ts, src/oidc/client-secret-compare.ts):
// the client authenticates with the secret itself, by client_secret_basic and client_secret_post,
// through openid-client; anything else (a wrong secret, the digest itself) is invalid_client.
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import crypto, { createHash } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import * as client from 'openid-client';
import { hashSecret, newHashedSecret } from '../../src/config/hashed-secret.js';
import { RP, startBridge, type Bridge, type ClientInput } from '../helpers/bridge.js';
import { basic, postForm, rpFor, signIn } from '../helpers/oidc-rp.js';

const CB = `${RP}/cb`;
const { secret: SECRET, hashed: HASHED } = newHashedSecret();
const HEX_SECRET = crypto.randomBytes(32).toString('hex');

const clients: ClientInput[] = [
  { client_id: 'hashed-basic', client_secret: HASHED, redirect_uris: [CB], skipConsent: true },
  {
    client_id: 'hashed-post',
    client_secret: `sha256:${createHash('sha256').update(HEX_SECRET).digest('hex')}`,
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: [CB],
    skipConsent: true,
  },
  { client_id: 'plain', client_secret: 'plain-secret', redirect_uris: [CB], skipConsent: true },
];

/** A token request whose client authentication is all that can succeed: the code is made up. */
const tokenRequest = (bridge: Bridge, headers: Record<string, string>, form: Record<string, string> = {}) =>
  postForm(`${bridge.issuer}/token`, { grant_type: 'authorization_code', code: 'made-up', redirect_uri: CB, ...form }, headers);

describe('hashed client secrets', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({ clients });
  });
  after(() => bridge.close());

  it('takes the secret itself by client_secret_basic (openid-client)', async () => {
    const rp = await rpFor(bridge, 'hashed-basic', { secret: SECRET, auth: 'basic' });
    const { tokens } = await signIn(rp, { redirectUri: CB, scope: 'openid' });
    assert.equal(tokens.claims()?.aud, 'hashed-basic');
  });

  it('takes the secret itself by client_secret_post, with a hex digest in the config (openid-client)', async () => {
    const rp = await rpFor(bridge, 'hashed-post', { secret: HEX_SECRET, auth: 'post' });
    const { tokens } = await signIn(rp, { redirectUri: CB, scope: 'openid' });
    assert.equal(tokens.claims()?.aud, 'hashed-post');
  });

  it('answers invalid_client to a wrong secret, and to the digest from the config', async () => {
    const rp = await rpFor(bridge, 'hashed-basic', { secret: `${SECRET}x`, auth: 'basic' });
    await assert.rejects(signIn(rp, { redirectUri: CB, scope: 'openid' }), (err: unknown) => {
      // A 401 from the token endpoint reaches openid-client as a WWW-Authenticate challenge.
      assert.ok(err instanceof client.WWWAuthenticateChallengeError, String(err));
      assert.equal(err.status, 401);
      assert.equal(err.cause[0]?.parameters.error, 'invalid_client');
      return true;
    });
    for (const presented of [HASHED, HASHED.slice('sha256:'.length), 'a', 'x'.repeat(5000)]) {
      const res = await tokenRequest(bridge, { authorization: basic('hashed-basic', presented) });
      assert.equal(res.status, 401, `secret of ${presented.length} characters`);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
    }
    const posted = await tokenRequest(bridge, {}, { client_id: 'hashed-post', client_secret: 'wrong' });
    assert.equal(((await posted.json()) as { error: string }).error, 'invalid_client');
  });

  it('compares SHA-256 digests with crypto.timingSafeEqual', async () => {
    const compare = mock.method(crypto, 'timingSafeEqual');
    syncBuiltinESMExports();
    try {
      const res = await tokenRequest(bridge, { authorization: basic('hashed-basic', 'wrong-secret') });
      assert.equal(res.status, 401);
    } finally {
      compare.mock.restore();
      syncBuiltinESMExports();
    }
    const digestOf = (s: string) => createHash('sha256').update(s).digest();
    const calls = compare.mock.calls.map((c) => c.arguments as unknown as [Buffer, Buffer]);
    assert.ok(
      calls.some(([a, b]) => a.length === 32 && b.length === 32 && a.equals(digestOf('wrong-secret')) && b.equals(digestOf(SECRET))),
      `expected a compare of the two digests, saw lengths ${JSON.stringify(calls.map(([a, b]) => [a.length, b.length]))}`,
    );
  });

  it('leaves plain secrets as they were', async () => {
    const right = await tokenRequest(bridge, { authorization: basic('plain', 'plain-secret') });
    assert.equal(((await right.json()) as { error: string }).error, 'invalid_grant');
    const hashedForm = await tokenRequest(bridge, { authorization: basic('plain', hashSecret('plain-secret')) });
    assert.equal(((await hashedForm.json()) as { error: string }).error, 'invalid_client');
  });
});
