import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oidcUpstreamSchema, type OidcUpstreamConfig } from '../../src/config/schema.js';
import { openOidc } from '../../src/upstreams/oidc/index.js';
import { UpstreamError, type Connector, type UpstreamErrorReason } from '../../src/upstreams/types.js';
import { s256 } from '../doubles/http-double.js';
import { DEFAULT_OIDC_USER, startFakeOidcIssuer, type FakeOidcFault, type FakeOidcIssuer } from '../doubles/fake-oidc-issuer.js';
import {
  assertLegStateError,
  callback,
  recordingLogger,
  runFlow,
  runUntilCallback,
  startHarness,
  type Harness,
  type Outcome,
  type RedirectRegistry,
} from './harness.js';

function oidcConfig(issuer: FakeOidcIssuer, overrides: Record<string, unknown> = {}): OidcUpstreamConfig {
  return oidcUpstreamSchema.parse({
    id: 'eiam',
    type: 'oidc',
    issuer: issuer.issuer,
    clientId: issuer.clientId,
    clientSecret: issuer.clientSecret,
    ...overrides,
  });
}

function upstreamError(outcome: Outcome, reason: UpstreamErrorReason): UpstreamError {
  assert.ok(outcome.err instanceof UpstreamError, `expected UpstreamError, got ${String(outcome.err)}`);
  assert.equal(outcome.err.reason, reason, outcome.err.message);
  assert.equal(outcome.identity, undefined);
  return outcome.err;
}

async function withHarness<T>(at: RedirectRegistry, upstream: Connector, run: (h: Harness) => Promise<T>): Promise<T> {
  const harness = await startHarness(upstream, at);
  try {
    return await run(harness);
  } finally {
    await harness.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('oidc upstream (EIAM 2.0 style issuer with a path)', () => {
  let issuer: FakeOidcIssuer;
  let harness: Harness;
  let upstream: Connector;
  before(async () => {
    issuer = await startFakeOidcIssuer({ issuerPath: '/v2/idaas_x/app_y/oidc', requirePkce: true, clientAuth: 'client_secret_basic' });
    upstream = openOidc(oidcConfig(issuer), { log: recordingLogger() });
    await upstream.init!();
    harness = await startHarness(upstream, issuer);
  });
  after(async () => {
    await harness.close();
    await issuer.close();
  });

  it('discovers, signs in with PKCE and nonce, and maps the verified ID token', async () => {
    const { outcome, authorizeUrl } = await runFlow(harness);
    assert.equal(outcome.err, undefined, String(outcome.err));
    assert.deepEqual(outcome.identity, {
      upstream: 'eiam',
      subject: 'user-1',
      linkDomain: `oidc:${issuer.issuer}`,
      linkKey: 'user-1',
      name: 'Li Na',
      email: 'lina@example.test',
      emailVerified: true,
      phoneNumber: '+8613800000001',
      picture: 'https://example.test/lina.png',
      usernameHints: [
        { source: 'orgEmail', value: 'lina@example.test' },
        { source: 'email', value: 'lina@example.test' },
        { source: 'userid', value: 'lina' },
      ],
      groups: ['platform', 'sre'],
      extra: {},
    });
    assert.equal(authorizeUrl.origin + authorizeUrl.pathname, issuer.endpoints.authorization);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'openid profile email');
    const leg = harness.legs.begun.at(-1)!;
    assert.ok(leg.nonce && leg.codeVerifier, 'nonce and verifier kept in the leg');
    assert.equal(authorizeUrl.searchParams.get('nonce'), leg.nonce);
    assert.equal(authorizeUrl.searchParams.get('code_challenge'), s256(leg.codeVerifier));
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
  });

  it('authenticates at the token endpoint with HTTP Basic by default', async () => {
    await runFlow(harness);
    const seen = issuer.requests.token.at(-1)!;
    assert.equal(seen.auth.method, 'client_secret_basic');
    assert.equal(seen.form.get('client_secret'), null);
  });

  it('fetches discovery once', () => {
    assert.equal(issuer.requests.discovery, 1);
  });

  const refusals: [FakeOidcFault, UpstreamErrorReason, string][] = [
    ['wrong_nonce', 'failed', 'id_token_nonce'],
    ['no_nonce', 'failed', 'id_token_nonce'],
    ['bad_signature', 'failed', 'id_token_signature'],
    ['wrong_issuer', 'failed', 'id_token_claims'],
    ['wrong_audience', 'failed', 'id_token_claims'],
    ['extra_audience', 'failed', 'id_token_azp'],
    ['expired_id_token', 'failed', 'id_token_expired'],
    ['no_id_token', 'failed', 'no_id_token'],
    ['deny', 'denied', 'access_denied'],
  ];
  for (const [fault, reason, code] of refusals) {
    it(`refuses ${fault} with UpstreamError(${reason})`, async () => {
      issuer.setFault(fault);
      try {
        const { outcome } = await runFlow(harness);
        assert.equal(upstreamError(outcome, reason).detail.code, code);
      } finally {
        issuer.setFault(undefined);
      }
    });
  }

  it('accepts several audiences when azp names this client', async () => {
    issuer.setFault('extra_audience_azp');
    try {
      assert.equal((await runFlow(harness)).outcome.identity?.subject, 'user-1');
    } finally {
      issuer.setFault(undefined);
    }
  });

  it('passes LegStateError through for a replayed state', async () => {
    const url = await runUntilCallback(harness);
    assert.ok((await callback(harness, url)).identity, 'first use works');
    const replay = await callback(harness, url);
    assertLegStateError(replay);
  });
});

describe('oidc upstream, userinfo, public clients and failures', () => {
  let issuer: FakeOidcIssuer;
  before(async () => {
    issuer = await startFakeOidcIssuer();
  });
  after(() => issuer.close());

  it('merges userinfo (fetched with Bearer) over a thin ID token', async () => {
    issuer.setFault('thin_id_token');
    try {
      await withHarness(issuer, openOidc(oidcConfig(issuer, { userInfo: true }), { log: recordingLogger() }), async (h) => {
        const { outcome } = await runFlow(h);
        assert.equal(outcome.identity?.subject, 'user-1');
        assert.equal(outcome.identity?.name, 'Li Na', 'name only exists at userinfo');
        assert.deepEqual(outcome.identity?.groups, ['platform', 'sre']);
        const seen = issuer.requests.userinfo.at(-1)!;
        assert.match(seen.authorization ?? '', /^Bearer /);
        assert.equal(seen.query.get('access_token'), null);
      });
    } finally {
      issuer.setFault(undefined);
    }
  });

  it('refuses userinfo about another subject', async () => {
    issuer.setFault('userinfo_other_sub');
    try {
      await withHarness(issuer, openOidc(oidcConfig(issuer, { userInfo: true }), { log: recordingLogger() }), async (h) => {
        assert.equal(upstreamError((await runFlow(h)).outcome, 'failed').detail.code, 'userinfo_sub_mismatch');
      });
    } finally {
      issuer.setFault(undefined);
    }
  });

  it('honours configured claim paths and linkDomain', async () => {
    issuer.setUser({ sub: 'u-2', employee: { id: 9001, mail: 'x@example.test' }, roles: 'admins' });
    try {
      const config = oidcConfig(issuer, {
        linkDomain: 'corp',
        claims: { linkKey: 'employee.id', email: 'employee.mail', groups: 'roles' },
      });
      await withHarness(issuer, openOidc(config, { log: recordingLogger() }), async (h) => {
        const identity = (await runFlow(h)).outcome.identity;
        assert.equal(identity?.subject, 'u-2');
        assert.equal(identity?.linkDomain, 'corp');
        assert.equal(identity?.linkKey, '9001');
        assert.equal(identity?.email, 'x@example.test');
        assert.equal(identity?.emailVerified, false, 'no email_verified claim means unverified');
        assert.deepEqual(identity?.groups, ['admins']);
      });
    } finally {
      issuer.setUser(DEFAULT_OIDC_USER);
    }
  });

  it('signs in as a public client (no secret, PKCE only)', async () => {
    const config = oidcConfig(issuer, { clientSecret: undefined });
    await withHarness(issuer, openOidc(config, { log: recordingLogger() }), async (h) => {
      const { outcome } = await runFlow(h);
      assert.ok(outcome.identity, String(outcome.err));
      const seen = issuer.requests.token.at(-1)!;
      assert.equal(seen.auth.method, 'none');
      assert.equal(seen.form.get('client_id'), issuer.clientId);
    });
  });

  it('uses client_secret_post when configured', async () => {
    await withHarness(issuer, openOidc(oidcConfig(issuer, { clientAuth: 'client_secret_post' }), { log: recordingLogger() }), async (h) => {
      assert.ok((await runFlow(h)).outcome.identity, 'signed in');
      assert.equal(issuer.requests.token.at(-1)!.auth.method, 'client_secret_post');
    });
  });

  it('reports a JWKS the issuer cannot serve as unavailable', async () => {
    issuer.setFault('jwks_500');
    try {
      await withHarness(issuer, openOidc(oidcConfig(issuer), { log: recordingLogger() }), async (h) => {
        assert.equal(upstreamError((await runFlow(h)).outcome, 'unavailable').detail.code, 'jwks_unavailable');
      });
    } finally {
      issuer.setFault(undefined);
    }
  });

  it('times out a slow token endpoint with UpstreamError(unavailable)', async () => {
    issuer.setFault('token_slow');
    try {
      await withHarness(issuer, openOidc(oidcConfig(issuer, { timeoutMs: 300 }), { log: recordingLogger() }), async (h) => {
        assert.equal(upstreamError((await runFlow(h)).outcome, 'unavailable').detail.code, 'timeout');
      });
    } finally {
      issuer.setFault(undefined);
    }
  });
});

describe('oidc upstream discovery', () => {
  let issuer: FakeOidcIssuer;
  before(async () => {
    issuer = await startFakeOidcIssuer();
  });
  after(() => issuer.close());

  it('refuses a discovery document naming another issuer as misconfigured', async () => {
    issuer.setFault('discovery_wrong_issuer');
    try {
      const upstream = openOidc(oidcConfig(issuer), { log: recordingLogger() });
      const err = await rejection(upstream.init!());
      assert.equal(err.reason, 'misconfigured');
      assert.equal(err.detail.code, 'issuer_mismatch');
      await withHarness(issuer, upstream, async (h) => {
        assert.equal(upstreamError((await runFlow(h)).outcome, 'misconfigured').detail.code, 'issuer_mismatch');
      });
    } finally {
      issuer.setFault(undefined);
    }
  });

  it('treats a trailing-slash difference as a different issuer', async () => {
    const upstream = openOidc(oidcConfig(issuer, { issuer: `${issuer.issuer}/` }), { log: recordingLogger() });
    assert.equal((await rejection(upstream.init!())).reason, 'misconfigured');
  });

  it('retries a failed discovery on first use', async () => {
    issuer.setFault('discovery_500');
    const upstream = openOidc(oidcConfig(issuer), { log: recordingLogger() });
    assert.equal((await rejection(upstream.init!())).reason, 'unavailable');
    issuer.setFault(undefined);
    await withHarness(issuer, upstream, async (h) => {
      assert.equal((await runFlow(h)).outcome.identity?.subject, 'user-1');
    });
  });

  it('reports an unreachable issuer as unavailable', async () => {
    const upstream = openOidc(oidcUpstreamSchema.parse({ id: 'eiam', type: 'oidc', issuer: 'http://127.0.0.1:1', clientId: 'c' }), {
      log: recordingLogger(),
    });
    assert.equal((await rejection(upstream.init!())).reason, 'unavailable');
  });
});
