// oidcc-dynamic-certification-test-plan, the modules that apply to a provider whose clients are
// registered statically (config.yaml) instead of by Dynamic Client Registration: each module's
// client is a configured one with the metadata the module would have registered. Modules shared
// with the basic and config plans (oidcc-server, oidcc-idtoken-unsigned, oidcc-refresh-token,
// oidcc-discovery-endpoint-verification, oidcc-ensure-request-object-with-redirect-uri) have their
// one test in basic-plan-flow.test.ts and config-plan.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { rotateKeys } from '../../src/oidc/keys.js';
import { freshKeysDir, REDIRECT, secretOf, startOp, webClient, type Op } from './op.js';
import { assertErrorPage } from './pages.js';
import { authorize, codeOf, discover, random, redeem, signIn, validateIdToken, verifyWithJwks, type Authorized } from './rp.js';

const QUERY_REDIRECT = `${REDIRECT}?foo=bar`;
const FRAGMENT_REDIRECT = `${REDIRECT}#fragment`;
/** How long after `keys rotate` the new key signs (in production: config keys.rotationLead, default an hour). */
const ROTATION_LEAD_SECONDS = 10;

describe('oidcc-dynamic-certification-test-plan (statically registered clients)', { concurrency: true }, () => {
  let op: Op;
  before(async () => {
    op = await startOp({
      clients: [
        webClient('rp-rs256', { id_token_signed_response_alg: 'RS256' }),
        webClient('rp-es256', { id_token_signed_response_alg: 'ES256' }),
        webClient('rp-query', { redirect_uris: [QUERY_REDIRECT] }),
        webClient('rp-basic'),
        webClient('rp-jwt', { token_endpoint_auth_method: 'client_secret_jwt' }),
      ],
    });
  });
  after(() => op?.close());

  it('oidcc-idtoken-rs256: a client registered for RS256 gets RS256 ID tokens (and one registered for ES256 gets ES256)', async () => {
    const { leg, tokens } = await signIn(op, { clientId: 'rp-rs256' });
    assert.equal(decodeProtectedHeader(tokens.id_token).alg, 'RS256');
    await validateIdToken(op, tokens.id_token, { clientId: 'rp-rs256', nonce: leg.params.nonce! });
    const es = await signIn(op, { clientId: 'rp-es256' });
    assert.equal(decodeProtectedHeader(es.tokens.id_token).alg, 'ES256', 'the registered alg is what decides');
    await verifyWithJwks(op, es.tokens.id_token, ['ES256']);
  });

  it('oidcc-redirect-uri-query-OK: a redirect URI registered with a query is used exactly, its query kept beside code and state', async () => {
    const leg = await authorize(op, { clientId: 'rp-query', params: { redirect_uri: QUERY_REDIRECT } });
    codeOf(op, leg);
    assert.equal(leg.callback!.searchParams.get('foo'), 'bar', 'the registered query is kept');
    assert.equal(`${leg.callback!.origin}${leg.callback!.pathname}`, REDIRECT);
    await redeem(op, leg);
  });

  it('oidcc-redirect-uri-query-mismatch: a redirect URI whose query differs from the registered one gets an error page', async () => {
    const leg = await authorize(op, { clientId: 'rp-query', params: { redirect_uri: `${REDIRECT}?foo=baz` } });
    assert.equal(leg.callback, undefined);
    assertErrorPage(leg.page, 'invalid_redirect_uri');
  });

  it('oidcc-redirect-uri-query-added: a query added to a redirect URI registered without one gets an error page', async () => {
    const leg = await authorize(op, { clientId: 'rp-basic', params: { redirect_uri: `${REDIRECT}?foo=bar` } });
    assert.equal(leg.callback, undefined);
    assertErrorPage(leg.page, 'invalid_redirect_uri');
  });

  it('oidcc-redirect-uri-regfrag: a redirect URI with a fragment (OAuth 2.0 §3.1.2) is refused at start-up, or at least never redirected to', async () => {
    let fragmentOp: Op;
    try {
      fragmentOp = await startOp({ clients: [webClient('rp-fragment', { redirect_uris: [FRAGMENT_REDIRECT] })] });
    } catch (err) {
      assert.match(err instanceof Error ? err.message : String(err), /redirect_uris|fragment/, 'the start-up error names the redirect URI');
      return;
    }
    try {
      const leg = await authorize(fragmentOp, { clientId: 'rp-fragment', params: { redirect_uri: FRAGMENT_REDIRECT } });
      assert.equal(leg.callback, undefined, 'the browser is never sent to it');
      assertErrorPage(leg.page, 'invalid_redirect_uri');
    } finally {
      await fragmentOp.close();
    }
  });

  /** A client_secret_jwt assertion (OIDC Core §9): HS256 with the client's secret, iss = sub = client_id. */
  function clientAssertion(clientId: string, audience: string): Promise<string> {
    return new SignJWT({ jti: random() })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secretOf(clientId)));
  }

  async function redeemWithAssertion(leg: Authorized, audience: string) {
    const { token_endpoint: endpoint } = await discover(op);
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: codeOf(op, leg),
        redirect_uri: REDIRECT,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion('rp-jwt', audience),
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('oidcc-ensure-client-assertion-with-iss-aud-succeeds: a client_secret_jwt assertion with iss = client_id and aud = the issuer (or the token endpoint) authenticates', async () => {
    assert.ok(((await discover(op)).token_endpoint_auth_methods_supported as string[]).includes('client_secret_jwt'));
    for (const audience of [op.issuer, (await discover(op)).token_endpoint]) {
      const leg = await authorize(op, { clientId: 'rp-jwt' });
      const { status, body } = await redeemWithAssertion(leg, audience);
      assert.equal(status, 200, `aud ${audience}: ${JSON.stringify(body)}`);
      await validateIdToken(op, String(body.id_token), { clientId: 'rp-jwt', nonce: leg.params.nonce! });
    }
    const leg = await authorize(op, { clientId: 'rp-jwt' });
    const { status, body } = await redeemWithAssertion(leg, 'https://someone-else.example.test');
    assert.equal(status, 401, 'an assertion meant for another audience is refused');
    assert.equal(body.error, 'invalid_client');
  });

  for (const module of ['oidcc-request-uri-unsigned', 'oidcc-request-uri-signed-rs256']) {
    it(`${module}: request_uri is not supported: discovery says so and the request is refused with request_uri_not_supported`, async () => {
      const doc = await discover(op);
      assert.equal(doc.request_uri_parameter_supported, false);
      assert.equal(doc.request_object_signing_alg_values_supported, undefined, 'no request object algorithms are offered');
      const leg = await authorize(op, { clientId: 'rp-basic', params: { request_uri: `${REDIRECT}/requests/${random()}.jwt` } });
      assert.equal(leg.callback?.searchParams.get('error'), 'request_uri_not_supported');
      assert.equal(leg.callback?.searchParams.get('code'), null);
      assert.equal(leg.callback?.searchParams.get('state'), leg.params.state);
    });
  }

  it(
    'oidcc-server-rotate-keys: after `keys rotate`, without a restart, the new key is published at the next re-read of keys.dir before it signs, and signs once active; ID tokens of the old key still verify against /jwks',
    { timeout: 40_000 },
    async () => {
      const keysDir = await freshKeysDir();
      const rotating = await startOp({
        clients: [webClient('rp-basic')],
        keysDir,
        config: { keys: { dir: keysDir, reloadInterval: '1s' } },
      });
      try {
        // The first GET after a (re)build is the engine's own answer; the ones after it carry the ETag.
        const jwks = async () => {
          const uri = (await discover(rotating)).jwks_uri;
          await (await fetch(uri)).arrayBuffer();
          const res = await fetch(uri);
          return { etag: res.headers.get('etag'), kids: ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid) };
        };
        const before = await signIn(rotating, { clientId: 'rp-basic' });
        const oldKid = decodeProtectedHeader(before.tokens.id_token).kid;
        const published = await jwks();
        // The bridge reads the real clock, so the pending phase (one re-read and one login, well
        // under a second) must end before the new key activates: the lead leaves a wide margin for a
        // loaded machine, and the test then waits for the activation the bridge logs.
        const [added] = (await rotateKeys(keysDir, { rotationLeadSeconds: ROTATION_LEAD_SECONDS })).filter((k) => k.alg === 'RS256');
        assert.ok(added && added.kid !== oldKid);

        await rotating.logged('signing key files changed: provider rebuilt');
        const republished = await jwks();
        assert.ok(republished.kids.includes(added.kid), 'the new key is published before it signs');
        assert.ok(republished.kids.includes(oldKid!), 'the old key stays published');
        assert.ok(published.etag && republished.etag);
        assert.notEqual(republished.etag, published.etag, 'a cached JWKS is revalidated: its ETag changed');
        const pending = await signIn(rotating, { clientId: 'rp-basic' });
        assert.equal(decodeProtectedHeader(pending.tokens.id_token).kid, oldKid, 'the old key signs until the new one activates');

        await rotating.logged('signing keys changed: provider rebuilt');
        const after = await signIn(rotating, { clientId: 'rp-basic' });
        assert.equal(decodeProtectedHeader(after.tokens.id_token).kid, added.kid, 'the new key signs once active');
        await validateIdToken(rotating, after.tokens.id_token, { clientId: 'rp-basic', nonce: after.leg.params.nonce! });
        await validateIdToken(rotating, before.tokens.id_token, { clientId: 'rp-basic', nonce: before.leg.params.nonce! });
      } finally {
        await rotating.close();
      }
    },
  );
  it(
    'a re-read that fails (a damaged key file in keys.dir) keeps the published keys, says so once, and recovers',
    { timeout: 40_000 },
    async () => {
      const keysDir = await freshKeysDir();
      const op = await startOp({ clients: [webClient('rp-basic')], keysDir, config: { keys: { dir: keysDir, reloadInterval: '1s' } } });
      try {
        const kids = async () =>
          ((await (await fetch((await discover(op)).jwks_uri)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
        const before = await kids();
        const damaged = join(keysDir, 'damaged.key.json');
        await writeFile(damaged, '{ not json', { mode: 0o600 });
        const failed = await op.logged('reading the signing keys failed; keeping the current ones');
        assert.equal(failed.level, 'error');
        assert.deepEqual(await kids(), before, 'still published');
        const tokens = (await signIn(op, { clientId: 'rp-basic' })).tokens;
        assert.ok(before.includes(decodeProtectedHeader(tokens.id_token).kid!), 'still signing with a published key');
        await rm(damaged);
        await op.logged('signing keys read again');
        assert.equal(op.logs.filter((l) => l.msg === 'reading the signing keys failed; keeping the current ones').length, 1, 'logged once');
      } finally {
        await op.close();
      }
    },
  );
});
