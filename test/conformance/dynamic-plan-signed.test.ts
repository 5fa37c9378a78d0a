// Modules that needed product changes: signed userinfo, a REQUIRED redirect_uri, and fragment
// redirect URIs refused at start-up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtectedHeader } from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { REDIRECT, startOp, webClient, type Op } from './op.js';
import { assertErrorPage } from './pages.js';
import { authorize, discover, signIn, userinfo, verifyWithJwks } from './rp.js';

describe('signed userinfo, required redirect_uri, fragment redirect URIs', () => {
  let op: Op;
  before(async () => {
    op = await startOp({ clients: [webClient('rp-basic'), webClient('rp-userinfo-jwt', { userinfo_signed_response_alg: 'RS256' })] });
  });
  after(() => op?.close());

  it('oidcc-userinfo-rs256: a client registered with userinfo_signed_response_alg RS256 gets userinfo as a signed JWT', async () => {
    assert.ok(((await discover(op)).userinfo_signing_alg_values_supported as string[] | undefined)?.includes('RS256'));
    const { tokens } = await signIn(op, { clientId: 'rp-userinfo-jwt', params: { scope: 'openid profile' } });
    const answer = await userinfo(op, tokens.access_token);
    assert.equal(answer.status, 200);
    assert.match(answer.type, /^application\/jwt/);
    assert.equal(decodeProtectedHeader(answer.text).alg, 'RS256');
    const { payload } = await verifyWithJwks(op, answer.text);
    assert.equal(payload.iss, op.issuer);
    assert.equal(payload.aud, 'rp-userinfo-jwt');
    assert.equal(typeof payload.sub, 'string');
  });

  it('oidcc-ensure-redirect-uri-in-authorization-request: a request without redirect_uri gets an error page, even for a client with one registered redirect URI', async () => {
    const leg = await authorize(op, { clientId: 'rp-basic', params: { redirect_uri: undefined } });
    assert.equal(leg.callback, undefined, 'no redirect: redirect_uri is REQUIRED (OIDC Core §3.1.2.1)');
    assertErrorPage(leg.page, 'invalid_request');
  });

  it('oidcc-redirect-uri-regfrag (start-up): a client whose redirect URI has a fragment is a config error naming it', () => {
    const parsed = configSchema.safeParse({
      issuer: 'https://op.example.test',
      cookieSecrets: ['x'.repeat(32)],
      upstreams: [{ id: 'corp', type: 'oidc', issuer: 'https://upstream.example.test', clientId: 'bridge' }],
      clients: [webClient('rp-fragment', { redirect_uris: [`${REDIRECT}#fragment`] })],
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(
      parsed.error?.issues.map((i) => i.path.join('.')),
      ['clients.0.redirect_uris.0'],
    );
  });
});
