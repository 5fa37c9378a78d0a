// oidcc-basic-certification-test-plan, part 1: the code flow, ID tokens, userinfo, scopes, code
// and refresh token handling, client authentication, and the request-object modules the bridge
// answers as unsupported. Part 2 (authentication request parameters): basic-plan-parameters.test.ts.
// Modules that the dynamic plan shares (oidcc-server, oidcc-idtoken-unsigned, oidcc-refresh-token,
// oidcc-ensure-request-object-with-redirect-uri) have their one test here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader, SignJWT, UnsecuredJWT } from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { REDIRECT, startOp, UPSTREAM_USER, webClient, type Op } from './op.js';
import { assertErrorPage } from './pages.js';
import {
  authorize,
  clockPast,
  codeOf,
  discover,
  random,
  redeem,
  s256,
  signIn,
  tokenRequest,
  userinfo,
  userinfoClaims,
  validateIdToken,
  verifyWithJwks,
  type Authorized,
} from './rp.js';

/** The error an authorization request came back to the client with (state echoed), asserting no code came with it. */
function errorAtClient(leg: Authorized): string | null {
  assert.equal(leg.page, undefined, `a redirect to the client, not a page: ${leg.page?.status} ${leg.page?.html.slice(0, 200)}`);
  const callback = leg.callback!;
  assert.equal(callback.searchParams.get('code'), null, 'no code');
  assert.equal(callback.searchParams.get('state'), leg.params.state ?? null, 'state is echoed with the error');
  return callback.searchParams.get('error');
}

describe('oidcc-basic-certification-test-plan: code flow, tokens and userinfo', { concurrency: true }, () => {
  let op: Op;
  before(async () => {
    op = await startOp({
      clients: [webClient('rp-basic'), webClient('rp-second'), webClient('rp-post', { token_endpoint_auth_method: 'client_secret_post' })],
    });
  });
  after(() => op?.close());

  it('oidcc-server: the code flow yields a valid RS256 ID token and userinfo for the same subject', async () => {
    const { leg, tokens } = await signIn(op, { clientId: 'rp-basic' });
    const claims = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
    assert.ok(tokens.expires_in > 0, 'expires_in is positive');
    assert.equal((await userinfoClaims(op, tokens.access_token)).sub, claims.sub);
  });

  it('oidcc-response-type-missing: a request without response_type is an invalid_request error, no code', async () => {
    const leg = await authorize(op, { clientId: 'rp-basic', params: { response_type: undefined } });
    assert.equal(errorAtClient(leg), 'invalid_request');
  });

  it('oidcc-idtoken-signature: the ID token verifies against a published RS256 signing key, and a forged one does not', async () => {
    const { tokens } = await signIn(op, { clientId: 'rp-basic' });
    const { kid } = decodeProtectedHeader(tokens.id_token);
    const jwks = (await (await fetch((await discover(op)).jwks_uri)).json()) as { keys: Record<string, unknown>[] };
    const key = jwks.keys.find((k) => k.kid === kid);
    assert.ok(key, 'the signing key is in the JWKS');
    assert.equal(key.alg, 'RS256');
    assert.equal(key.use, 'sig');
    await verifyWithJwks(op, tokens.id_token);
    const [header, , signature] = tokens.id_token.split('.');
    const forged = JSON.stringify({ ...decodeJwt(tokens.id_token), sub: 'someone-else' });
    await assert.rejects(
      verifyWithJwks(op, [header, Buffer.from(forged).toString('base64url'), signature].join('.')),
      /signature verification failed/,
    );
  });

  it('oidcc-idtoken-unsigned: alg none is refused for a client by the config schema and never advertised', async () => {
    const parsed = configSchema.safeParse({
      issuer: 'https://op.example.test',
      cookieSecrets: ['x'.repeat(32)],
      upstreams: [{ id: 'corp', type: 'oidc', issuer: 'https://upstream.example.test', clientId: 'bridge' }],
      clients: [{ ...webClient('rp-none'), id_token_signed_response_alg: 'none' }],
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(
      parsed.error?.issues.map((i) => i.path.join('.')),
      ['clients.0.id_token_signed_response_alg'],
    );
    const algs = (await discover(op)).id_token_signing_alg_values_supported as string[];
    assert.ok(algs.includes('RS256'), 'RS256 is offered (OIDC Discovery §3 requires it)');
    assert.ok(!algs.includes('none'), `none is not offered: ${algs.join(', ')}`);
  });

  for (const [module, style] of [
    ['oidcc-userinfo-get', 'get'],
    ['oidcc-userinfo-post-header', 'post-header'],
    ['oidcc-userinfo-post-body', 'post-body'],
  ] as const) {
    const how = {
      get: 'GET with a Bearer header',
      'post-header': 'POST with a Bearer header',
      'post-body': 'POST with access_token in the form body (RFC 6750 §2.2)',
    }[style];
    it(`${module}: userinfo answered to ${how} names the ID token's subject`, async () => {
      const { tokens } = await signIn(op, { clientId: 'rp-basic', params: { scope: 'openid profile' } });
      const claims = await userinfoClaims(op, tokens.access_token, style);
      assert.equal(claims.sub, decodeJwt(tokens.id_token).sub);
      assert.equal(claims.name, UPSTREAM_USER.name);
    });
  }

  it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow: no nonce, and the ID token carries none', async () => {
    const { tokens } = await signIn(op, { clientId: 'rp-basic', params: { nonce: undefined } });
    const claims = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic' });
    assert.equal('nonce' in claims, false);
  });

  /** Claims of a scope set, from the ID token (the bridge puts requested claims there too) and userinfo. */
  async function scopeClaims(scope: string) {
    const { leg, tokens } = await signIn(op, { clientId: 'rp-basic', params: { scope } });
    assert.deepEqual(new Set(tokens.scope?.split(' ')), new Set(scope.split(' ').filter((s) => s !== 'address')), 'granted scopes');
    const idToken = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
    return { idToken, userinfo: await userinfoClaims(op, tokens.access_token) };
  }

  it('oidcc-scope-profile: scope profile releases name and preferred_username, and not email or phone', async () => {
    for (const claims of Object.values(await scopeClaims('openid profile'))) {
      assert.equal(claims.name, UPSTREAM_USER.name);
      assert.equal(typeof claims.preferred_username, 'string');
      assert.equal(claims.email, undefined);
      assert.equal(claims.phone_number, undefined);
    }
  });

  it('oidcc-scope-email: scope email releases email and email_verified', async () => {
    for (const claims of Object.values(await scopeClaims('openid email'))) {
      assert.equal(claims.email, UPSTREAM_USER.email);
      assert.equal(claims.email_verified, true);
      assert.equal(claims.name, undefined);
    }
  });

  it('oidcc-scope-address: the bridge holds no address, so scope address succeeds without an address claim', async () => {
    assert.ok(!((await discover(op)).scopes_supported as string[]).includes('address'), 'address is not advertised');
    for (const claims of Object.values(await scopeClaims('openid address'))) {
      assert.equal(claims.address, undefined);
      assert.equal(typeof claims.sub, 'string');
    }
  });

  it('oidcc-scope-phone: scope phone releases an E.164 phone_number and phone_number_verified', async () => {
    for (const claims of Object.values(await scopeClaims('openid phone'))) {
      assert.equal(claims.phone_number, UPSTREAM_USER.phone_number);
      assert.equal(typeof claims.phone_number_verified, 'boolean');
      assert.equal(claims.email, undefined);
    }
  });

  it('oidcc-scope-all: openid profile email address phone releases every claim the bridge holds, without address', async () => {
    for (const claims of Object.values(await scopeClaims('openid profile email address phone'))) {
      assert.equal(claims.name, UPSTREAM_USER.name);
      assert.equal(claims.email, UPSTREAM_USER.email);
      assert.equal(claims.phone_number, UPSTREAM_USER.phone_number);
      assert.equal(claims.address, undefined);
    }
  });

  it('oidcc-alternate-happy-flow: a second client completes the code flow with another scope set; the first cannot redeem its code', async () => {
    const leg = await authorize(op, { clientId: 'rp-second', params: { scope: 'openid email phone' } });
    const code = codeOf(op, leg);
    const stolen = await tokenRequest(op, 'rp-basic', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    // The failed attempt by another client does not burn the code for its owner.
    const tokens = await redeem(op, leg);
    const claims = await validateIdToken(op, tokens.id_token, { clientId: 'rp-second', nonce: leg.params.nonce! });
    assert.equal(claims.email, UPSTREAM_USER.email);
  });

  /** Redeems a code twice; the second time must fail and revoke what the first issued (OIDC Core §3.1.3.2, RFC 6749 §4.1.2). */
  async function assertCodeReuseRefused(waitMs: number) {
    const leg = await authorize(op, { clientId: 'rp-basic' });
    const tokens = await redeem(op, leg);
    if (waitMs) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const again = await tokenRequest(op, 'rp-basic', { grant_type: 'authorization_code', code: leg.code!, redirect_uri: REDIRECT });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal((await userinfo(op, tokens.access_token)).status, 401, 'the first access token is revoked');
    const refresh = await tokenRequest(op, 'rp-basic', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    assert.equal(refresh.body.error, 'invalid_grant', 'the first refresh token is revoked');
  }

  it('oidcc-codereuse: a code redeemed twice is refused and its tokens are revoked', () => assertCodeReuseRefused(0));

  it('oidcc-codereuse-30seconds (waits 1.5 s, not 30 s: a redeemed code is remembered for its whole lifetime, so the wait changes nothing): reuse is refused and the tokens revoked', () =>
    assertCodeReuseRefused(1500));

  it('oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets an error page, never a redirect to it', async () => {
    const leg = await authorize(op, { clientId: 'rp-basic', params: { redirect_uri: `${REDIRECT}/elsewhere` } });
    assert.equal(leg.callback, undefined, 'the browser is not sent to the unregistered URI');
    assertErrorPage(leg.page, 'invalid_redirect_uri');
  });

  it('oidcc-server-client-secret-post: a client_secret_post client authenticates with its secret in the form body; a wrong one is refused', async () => {
    const leg = await authorize(op, { clientId: 'rp-post' });
    const { token_endpoint: endpoint } = await discover(op);
    const wrong = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: codeOf(op, leg),
        redirect_uri: REDIRECT,
        client_id: 'rp-post',
        client_secret: 'not-the-secret',
      }).toString(),
    });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_client');
    const tokens = await redeem(op, leg, { auth: 'post' });
    await validateIdToken(op, tokens.id_token, { clientId: 'rp-post', nonce: leg.params.nonce! });
  });

  it('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: discovery says no request_uri, and one is refused with request_uri_not_supported', async () => {
    assert.equal((await discover(op)).request_uri_parameter_supported, false);
    const leg = await authorize(op, { clientId: 'rp-basic', params: { request_uri: `${REDIRECT}/request.jwt` } });
    assert.equal(errorAtClient(leg), 'request_uri_not_supported');
  });

  /** An unsigned request object (OIDC Core §6.1) for rp-basic with `claims` in it. */
  function requestObject(claims: Record<string, unknown>): string {
    return new UnsecuredJWT({ client_id: 'rp-basic', response_type: 'code', scope: 'openid', ...claims })
      .setIssuer('rp-basic')
      .setAudience(op.issuer)
      .encode();
  }

  it('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: discovery says no request objects, and one is refused with request_not_supported', async () => {
    // OIDC Discovery §3: an omitted request_parameter_supported means false.
    assert.notEqual((await discover(op)).request_parameter_supported, true);
    const leg = await authorize(op, { clientId: 'rp-basic', params: { request: requestObject({ nonce: random(), state: random() }) } });
    assert.equal(errorAtClient(leg), 'request_not_supported');
  });

  it('oidcc-ensure-request-object-with-redirect-uri: a request object carrying redirect_uri is refused as unsupported, no code issued', async () => {
    const signed = await new SignJWT({
      client_id: 'rp-basic',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT,
      nonce: random(),
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('rp-basic')
      .setAudience(op.issuer)
      .sign(new TextEncoder().encode('rp-basic-secret-0123456789abcdef0123456789'));
    const leg = await authorize(op, { clientId: 'rp-basic', params: { request: signed, redirect_uri: undefined } });
    if (leg.page) {
      // Without a redirect_uri outside the request object there is nowhere to send the error.
      assertErrorPage(leg.page);
    } else {
      assert.equal(leg.callback!.origin + leg.callback!.pathname, REDIRECT, 'only ever the registered redirect URI');
      assert.equal(leg.callback!.searchParams.get('error'), 'request_not_supported');
      assert.equal(leg.callback!.searchParams.get('code'), null);
    }
  });

  it('oidcc-claims-essential: an essential email requested for the ID token with scope openid alone is in the ID token', async () => {
    const claimsRequest = JSON.stringify({ id_token: { email: { essential: true } } });
    const { leg, tokens } = await signIn(op, { clientId: 'rp-basic', params: { scope: 'openid', claims: claimsRequest } });
    const claims = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
    assert.equal(claims.email, UPSTREAM_USER.email);
    assert.equal(claims.name, undefined, 'only what was asked for');
  });

  it('oidcc-refresh-token: a refresh gives new tokens and an ID token for the same subject, bound to the client it was issued to', async () => {
    const { leg, tokens } = await signIn(op, { clientId: 'rp-basic', params: { scope: 'openid offline_access' } });
    const first = await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: leg.params.nonce! });
    assert.equal(typeof tokens.refresh_token, 'string', 'a refresh token for a client with the refresh_token grant');
    const other = await tokenRequest(op, 'rp-second', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    assert.equal(other.body.error, 'invalid_grant', 'another client cannot use it');
    await clockPast(first.iat!);
    const refreshed = await tokenRequest(op, 'rp-basic', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.notEqual(refreshed.body.access_token, tokens.access_token);
    // OIDC Core §12.2: same iss, sub, aud; a new iat; a nonce, if any, is the original one.
    const idToken = String(refreshed.body.id_token);
    const carried = decodeJwt(idToken).nonce as string | undefined;
    assert.ok(carried === undefined || carried === leg.params.nonce, 'no nonce, or the original one');
    const renewed = await validateIdToken(
      op,
      idToken,
      carried === undefined ? { clientId: 'rp-basic' } : { clientId: 'rp-basic', nonce: carried },
    );
    assert.equal(renewed.sub, first.sub);
    assert.ok(renewed.iat! > first.iat!, 'a fresh iat');
    assert.equal((await userinfoClaims(op, String(refreshed.body.access_token))).sub, first.sub);
  });

  it('oidcc-ensure-request-with-valid-pkce-succeeds: an S256 challenge with its verifier redeems; a wrong verifier does not', async () => {
    const verifier = random() + random();
    const leg = await authorize(op, { clientId: 'rp-basic', params: { code_challenge: s256(verifier), code_challenge_method: 'S256' } });
    const wrong = await tokenRequest(op, 'rp-basic', {
      grant_type: 'authorization_code',
      code: codeOf(op, leg),
      redirect_uri: REDIRECT,
      code_verifier: `${verifier}x`,
    });
    assert.equal(wrong.body.error, 'invalid_grant');
    const good = await authorize(op, { clientId: 'rp-basic', params: { code_challenge: s256(verifier), code_challenge_method: 'S256' } });
    const tokens = await redeem(op, good, { codeVerifier: verifier });
    await validateIdToken(op, tokens.id_token, { clientId: 'rp-basic', nonce: good.params.nonce! });
  });
});
