// oidcc-config-certification-test-plan (also the dynamic plan's oidcc-discovery-endpoint-verification):
// the discovery document against OpenID Connect Discovery 1.0 §3 and §4.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startOp, webClient, type Op } from './op.js';

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

const stringArray = (value: unknown) => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string');

describe('oidcc-config-certification-test-plan', () => {
  let op: Op;
  before(async () => {
    op = await startOp({ clients: [webClient('rp-basic')] });
  });
  after(() => op?.close());

  it('oidcc-discovery-endpoint-verification: every REQUIRED and the relevant RECOMMENDED field is there and true to the OP; the issuer is exact; jwks_uri serves public signing keys', async () => {
    const res = await fetch(`${op.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const doc = (await res.json()) as Record<string, unknown>;

    // §4.3: the issuer is identical to the URL the document was fetched under, without a trailing slash.
    assert.equal(doc.issuer, op.issuer);
    assert.equal(doc.issuer, op.config.issuer);

    // §3 REQUIRED.
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
      assert.equal(typeof doc[endpoint], 'string', `${endpoint} is present`);
      assert.ok(String(doc[endpoint]).startsWith(`${op.issuer}/`), `${endpoint} lives under the issuer`);
    }
    assert.deepEqual(doc.response_types_supported, ['code'], 'the code flow only (no implicit or hybrid)');
    assert.ok(stringArray(doc.subject_types_supported));
    assert.ok((doc.subject_types_supported as string[]).every((t) => t === 'public' || t === 'pairwise'));
    assert.ok(stringArray(doc.id_token_signing_alg_values_supported));
    assert.ok((doc.id_token_signing_alg_values_supported as string[]).includes('RS256'), 'RS256 MUST be included');
    assert.ok(!(doc.id_token_signing_alg_values_supported as string[]).includes('none'));

    // §3 RECOMMENDED (registration_endpoint does not apply: clients are registered statically).
    assert.ok(String(doc.userinfo_endpoint).startsWith(`${op.issuer}/`), 'userinfo_endpoint');
    assert.ok(stringArray(doc.scopes_supported) && (doc.scopes_supported as string[]).includes('openid'), 'scopes_supported with openid');
    assert.ok(stringArray(doc.claims_supported) && (doc.claims_supported as string[]).includes('sub'), 'claims_supported with sub');
    assert.equal(doc.registration_endpoint, undefined, 'no dynamic registration is advertised');

    // OPTIONAL fields the bridge's behaviour depends on must tell the truth.
    assert.ok((doc.grant_types_supported as string[]).includes('authorization_code'));
    assert.ok((doc.grant_types_supported as string[]).includes('refresh_token'));
    assert.ok((doc.token_endpoint_auth_methods_supported as string[]).includes('client_secret_basic'));
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.equal(doc.claims_parameter_supported, true);
    assert.notEqual(doc.request_parameter_supported, true);
    assert.equal(doc.request_uri_parameter_supported, false);
    assert.deepEqual(new Set(doc.ui_locales_supported as string[]), new Set(['zh-CN', 'en']));
    assert.ok(String(doc.end_session_endpoint).startsWith(`${op.issuer}/`));

    const jwksRes = await fetch(String(doc.jwks_uri));
    assert.equal(jwksRes.status, 200);
    assert.match(jwksRes.headers.get('content-type') ?? '', /^application\/(jwk-set\+)?json/);
    const { keys } = (await jwksRes.json()) as { keys: Record<string, unknown>[] };
    assert.ok(Array.isArray(keys) && keys.length > 0);
    for (const key of keys) {
      assert.equal(typeof key.kid, 'string', 'every key has a kid');
      assert.equal(typeof key.alg, 'string', `key ${String(key.kid)} has an alg`);
      assert.equal(key.use, 'sig', `key ${String(key.kid)} is a signing key`);
      for (const member of PRIVATE_JWK_MEMBERS)
        assert.equal(key[member], undefined, `key ${String(key.kid)} publishes no private member ${member}`);
    }
    assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length, 'kids are unique');
    for (const alg of doc.id_token_signing_alg_values_supported as string[]) {
      assert.ok(
        keys.some((k) => k.alg === alg),
        `a published key signs the advertised ${alg}`,
      );
    }
  });
});
