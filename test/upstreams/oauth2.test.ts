import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oauth2UpstreamSchema, type OAuth2UpstreamConfig } from '../../src/config/schema.js';
import { openOAuth2 } from '../../src/upstreams/oauth2/index.js';
import { UpstreamError, type Connector, type UpstreamErrorReason } from '../../src/upstreams/types.js';
import { s256 } from '../doubles/http-double.js';
import { DEFAULT_IDAAS_USER, startFakeIdaas, type FakeIdaas, type FakeIdaasFault } from '../doubles/fake-idaas.js';
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
  type StartOptions,
} from './harness.js';

function idaasConfig(idaas: FakeIdaas, overrides: Record<string, unknown> = {}): OAuth2UpstreamConfig {
  return oauth2UpstreamSchema.parse({
    id: 'idaas',
    type: 'oauth2',
    preset: 'aliyun-idaas',
    baseURL: idaas.url,
    clientId: idaas.clientId,
    clientSecret: idaas.clientSecret,
    clientAuth: 'client_secret_basic',
    ...overrides,
  });
}

function upstreamError(outcome: Outcome, reason: UpstreamErrorReason): UpstreamError {
  assert.ok(outcome.err instanceof UpstreamError, `expected UpstreamError, got ${String(outcome.err)}`);
  assert.equal(outcome.err.reason, reason, outcome.err.message);
  assert.equal(outcome.err.upstream, 'idaas');
  assert.equal(outcome.identity, undefined);
  return outcome.err;
}

async function withHarness<T>(
  at: RedirectRegistry,
  upstream: Connector,
  run: (h: Harness) => Promise<T>,
  startOptions?: StartOptions,
): Promise<T> {
  const harness = await startHarness(upstream, at, startOptions);
  try {
    return await run(harness);
  } finally {
    await harness.close();
  }
}

describe('oauth2 upstream, aliyun-idaas preset (EIAM 1.0)', () => {
  let idaas: FakeIdaas;
  let harness: Harness;
  before(async () => {
    idaas = await startFakeIdaas({ clientAuth: 'client_secret_basic' });
    harness = await startHarness(openOAuth2(idaasConfig(idaas), { log: recordingLogger() }), idaas);
  });
  after(async () => {
    await harness.close();
    await idaas.close();
  });

  it('signs in and maps the wrapped userinfo into an UpstreamIdentity', async () => {
    const { outcome, authorizeUrl } = await runFlow(harness);
    assert.equal(outcome.err, undefined, String(outcome.err));
    assert.deepEqual(outcome.identity, {
      upstream: 'idaas',
      subject: '42',
      linkDomain: `oauth2:${new URL(idaas.url).host}`,
      linkKey: '42',
      name: '张伟',
      email: 'zhangwei@example.test',
      emailVerified: false,
      phoneNumber: '+8613800000000',
      picture: undefined,
      usernameHints: [
        { source: 'email', value: 'zhangwei@example.test' },
        { source: 'userid', value: 'zhangwei' },
      ],
      groups: [],
      extra: {},
    });
    assert.equal(authorizeUrl.pathname, '/oauth/authorize');
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read');
    assert.equal(authorizeUrl.searchParams.get('response_type'), 'code');
    assert.equal(authorizeUrl.searchParams.get('redirect_uri'), harness.callbackUrl);
    assert.equal(authorizeUrl.searchParams.get('code_challenge'), null, 'PKCE is off by default for oauth2');
    assert.ok(authorizeUrl.searchParams.get('state'), 'state sent');
    assert.equal(harness.legs.live(), 0, 'the leg is burned');
  });

  it('authenticates with HTTP Basic and keeps the secret out of the body', async () => {
    const { outcome } = await runFlow(harness);
    assert.ok(outcome.identity, String(outcome.err));
    const seen = idaas.requests.token.at(-1)!;
    assert.equal(seen.auth.method, 'client_secret_basic');
    assert.equal(seen.auth.clientSecret, idaas.clientSecret);
    assert.equal(seen.form.get('client_secret'), null);
    assert.equal(seen.form.get('grant_type'), 'authorization_code');
    assert.equal(seen.form.get('redirect_uri'), harness.callbackUrl);
  });

  it('sends the access token as a Bearer header, never in the query', async () => {
    await runFlow(harness);
    const seen = idaas.requests.userinfo.at(-1)!;
    assert.match(seen.authorization ?? '', /^Bearer [0-9a-f]{32}$/);
    assert.equal(seen.query.get('access_token'), null);
    assert.equal([...seen.query.keys()].length, 0);
  });

  const faults: [FakeIdaasFault, UpstreamErrorReason, string][] = [
    ['deny', 'denied', 'access_denied'],
    ['authorize_error', 'failed', 'server_error'],
    ['token_without_access_token', 'failed', 'bad_token_response'],
    ['token_error_body', 'failed', 'invalid_grant'],
    ['token_500', 'unavailable', 'server_error'],
    ['userinfo_unsuccessful', 'failed', 'userinfo_unsuccessful'],
    ['userinfo_500', 'unavailable', 'http_500'],
  ];
  for (const [fault, reason, code] of faults) {
    it(`maps ${fault} to UpstreamError(${reason})`, async () => {
      idaas.setFault(fault);
      try {
        const { outcome } = await runFlow(harness);
        assert.equal(upstreamError(outcome, reason).detail.code, code);
      } finally {
        idaas.setFault(undefined);
      }
    });
  }

  it('burns the state of a denied leg, so the error cannot be replayed', async () => {
    idaas.setFault('deny');
    try {
      const url = await runUntilCallback(harness);
      upstreamError(await callback(harness, url), 'denied');
      const replay = await callback(harness, url);
      assertLegStateError(replay);
    } finally {
      idaas.setFault(undefined);
    }
  });

  it('passes LegStateError through for a replayed, forged or missing state', async () => {
    const url = await runUntilCallback(harness);
    assert.ok((await callback(harness, url)).identity, 'first use works');
    const replayed = await callback(harness, url);
    assertLegStateError(replayed, 'unknown');

    const forged = new URL(await runUntilCallback(harness));
    forged.searchParams.set('state', 'forged');
    const forgedOutcome = await callback(harness, forged);
    assertLegStateError(forgedOutcome, 'unknown');

    const stateless = new URL(await runUntilCallback(harness));
    stateless.searchParams.delete('state');
    const missing = await callback(harness, stateless);
    assertLegStateError(missing, 'missing');
  });

  it('refuses a forged ?error= without a live leg as a state problem, not as the upstream speaking', async () => {
    const outcome = await callback(harness, `${harness.callbackUrl}?error=access_denied&state=forged`);
    assertLegStateError(outcome);
  });

  it('refuses a callback without a code after burning its leg', async () => {
    const url = new URL(await runUntilCallback(harness));
    url.searchParams.delete('code');
    assert.equal(upstreamError(await callback(harness, url), 'failed').detail.code, 'no_code');
    url.searchParams.set('code', 'late');
    assertLegStateError(await callback(harness, url));
  });

  it('refuses a repeated state parameter', async () => {
    const url = new URL(await runUntilCallback(harness));
    url.searchParams.append('state', 'second');
    const outcome = await callback(harness, url);
    assertLegStateError(outcome);
  });

  it('keeps concurrent sign-ins through one strategy instance apart', async () => {
    const urls = await Promise.all([runUntilCallback(harness), runUntilCallback(harness), runUntilCallback(harness)]);
    const outcomes = await Promise.all(urls.map((url) => callback(harness, url)));
    for (const outcome of outcomes) assert.equal(outcome.identity?.subject, '42');
    assert.equal(new Set(outcomes).size, 3);
  });
});

describe('oauth2 upstream, client authentication and options', () => {
  let idaas: FakeIdaas;
  before(async () => {
    idaas = await startFakeIdaas({ clientAuth: 'client_secret_post' });
  });
  after(() => idaas.close());

  it('sends client_secret_post credentials in the body without an Authorization header', async () => {
    const upstream = openOAuth2(idaasConfig(idaas, { clientAuth: 'client_secret_post' }), { log: recordingLogger() });
    await withHarness(idaas, upstream, async (h) => {
      const { outcome } = await runFlow(h);
      assert.ok(outcome.identity, String(outcome.err));
      const seen = idaas.requests.token.at(-1)!;
      assert.equal(seen.auth.method, 'client_secret_post');
      assert.equal(seen.form.get('client_id'), idaas.clientId);
      assert.equal(seen.form.get('client_secret'), idaas.clientSecret);
    });
  });

  it('starts a fresh leg whatever the start URL holds when told it is the start (callback: false); unset, callback parameters make it a callback', async () => {
    const forged = '?state=forged&code=alice&error=x';
    const upstream = openOAuth2(idaasConfig(idaas, { clientAuth: 'client_secret_post' }), { log: recordingLogger() });
    await withHarness(
      idaas,
      upstream,
      async (h) => {
        const start = await fetch(`${h.url}/start${forged}`, { redirect: 'manual' });
        assert.equal(start.status, 302);
        const authorize = new URL(start.headers.get('location')!);
        assert.equal(authorize.host, new URL(idaas.url).host);
        assert.notEqual(authorize.searchParams.get('state'), 'forged');
        assert.equal(h.legs.live(), 1, 'one leg begun');
      },
      { callback: false },
    );
    await withHarness(idaas, upstream, async (h) => {
      const start = await fetch(`${h.url}/start${forged}`, { redirect: 'manual' });
      assert.equal(start.status, 500, 'the harness start route answers 500 to anything but a redirect');
      assertLegStateError(h.outcomes.at(-1)!);
    });
  });

  it('reports refused client credentials as misconfigured', async () => {
    for (const overrides of [{ clientAuth: 'client_secret_basic' }, { clientAuth: 'client_secret_post', clientSecret: 'wrong' }]) {
      const upstream = openOAuth2(idaasConfig(idaas, overrides), { log: recordingLogger() });
      await withHarness(idaas, upstream, async (h) => {
        const err = upstreamError((await runFlow(h)).outcome, 'misconfigured');
        assert.equal(err.detail.code, 'invalid_client');
        assert.doesNotMatch(err.message, new RegExp(idaas.clientSecret));
      });
    }
  });

  it('sends PKCE S256 when configured and keeps the verifier in the leg', async () => {
    const upstream = openOAuth2(idaasConfig(idaas, { clientAuth: 'client_secret_post', pkce: true }), { log: recordingLogger() });
    await withHarness(idaas, upstream, async (h) => {
      const { outcome, authorizeUrl } = await runFlow(h);
      assert.ok(outcome.identity, String(outcome.err));
      assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
      const verifier = h.legs.begun.at(-1)?.codeVerifier;
      assert.ok(verifier && verifier.length >= 43, 'a 43+ character verifier kept in the leg');
      assert.equal(idaas.requests.token.at(-1)!.form.get('code_verifier'), verifier);
      assert.equal(authorizeUrl.searchParams.get('code_challenge'), s256(verifier));
    });
  });

  it('sends PKCE S256 by default to a generic oauth2 server, and not to a preset whose server is not known to take it', async () => {
    const generic = oauth2UpstreamSchema.parse({
      id: 'idaas',
      type: 'oauth2',
      clientId: idaas.clientId,
      clientSecret: idaas.clientSecret,
      ...idaas.endpoints,
      claims: { subject: 'data.sub' },
    });
    await withHarness(idaas, openOAuth2(generic, { log: recordingLogger() }), async (h) => {
      const { outcome, authorizeUrl } = await runFlow(h);
      assert.ok(outcome.identity, String(outcome.err));
      assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
      const verifier = h.legs.begun.at(-1)?.codeVerifier;
      assert.ok(verifier, 'the verifier is kept in the leg');
      assert.equal(authorizeUrl.searchParams.get('code_challenge'), s256(verifier));
      assert.equal(idaas.requests.token.at(-1)!.form.get('code_verifier'), verifier);
    });
    // EIAM 1.0 (the aliyun-idaas preset) documents no PKCE: nothing sent unless the operator turns it on.
    await withHarness(
      idaas,
      openOAuth2(idaasConfig(idaas, { clientAuth: 'client_secret_post' }), { log: recordingLogger() }),
      async (h) => {
        const { outcome, authorizeUrl } = await runFlow(h);
        assert.ok(outcome.identity, String(outcome.err));
        assert.equal(authorizeUrl.searchParams.get('code_challenge'), null);
        assert.equal(idaas.requests.token.at(-1)!.form.get('code_verifier'), null);
      },
    );
    const off = oauth2UpstreamSchema.parse({ ...generic, pkce: false });
    await withHarness(idaas, openOAuth2(off, { log: recordingLogger() }), async (h) => {
      const { authorizeUrl } = await runFlow(h);
      assert.equal(authorizeUrl.searchParams.get('code_challenge'), null, 'pkce: false turns it off');
    });
  });

  it('maps a generic oauth2 upstream by configured paths, linkDomain and linkKey', async () => {
    idaas.setUser({ sub: 7, ou_id: 'ou-42', username: 'li.lei', email: 'lilei@example.test', phone_number: 'n/a' });
    try {
      const config = oauth2UpstreamSchema.parse({
        id: 'idaas',
        type: 'oauth2',
        clientId: idaas.clientId,
        clientSecret: idaas.clientSecret,
        ...idaas.endpoints,
        linkDomain: 'corp',
        claims: { subject: 'data.sub', linkKey: 'data.ou_id', username: 'data.username', groups: 'data.ou_name' },
      });
      await withHarness(idaas, openOAuth2(config, { log: recordingLogger() }), async (h) => {
        const { outcome, authorizeUrl } = await runFlow(h);
        assert.equal(authorizeUrl.searchParams.get('scope'), null, 'no scope configured, none sent');
        assert.equal(outcome.identity?.subject, '7');
        assert.equal(outcome.identity?.linkDomain, 'corp');
        assert.equal(outcome.identity?.linkKey, 'ou-42');
        assert.equal(outcome.identity?.email, undefined, 'email not mapped');
        assert.equal(outcome.identity?.phoneNumber, undefined);
        assert.deepEqual(outcome.identity?.usernameHints, [{ source: 'userid', value: 'li.lei' }]);
      });
    } finally {
      idaas.setUser(DEFAULT_IDAAS_USER);
    }
  });

  it('adds extra authorization parameters from the start route but never overrides protocol ones', async () => {
    const upstream = openOAuth2(idaasConfig(idaas, { clientAuth: 'client_secret_post' }), { log: recordingLogger() });
    const startOptions = { authorizationParams: { prompt: 'login', state: 'mine', redirect_uri: 'https://evil.test/' } };
    await withHarness(
      idaas,
      upstream,
      async (h) => {
        const { outcome, authorizeUrl } = await runFlow(h);
        assert.ok(outcome.identity, String(outcome.err));
        assert.equal(authorizeUrl.searchParams.get('prompt'), 'login');
        assert.notEqual(authorizeUrl.searchParams.get('state'), 'mine');
        assert.equal(authorizeUrl.searchParams.get('redirect_uri'), h.callbackUrl);
      },
      startOptions,
    );
  });
});

describe('oauth2 upstream, timeouts', () => {
  let idaas: FakeIdaas;
  before(async () => {
    idaas = await startFakeIdaas({ slowMs: 5000 });
  });
  after(() => idaas.close());

  for (const fault of ['token_slow', 'userinfo_slow'] as const) {
    it(`gives up on ${fault} after timeoutMs with UpstreamError(unavailable)`, async () => {
      idaas.setFault(fault);
      const upstream = openOAuth2(idaasConfig(idaas, { timeoutMs: 300 }), { log: recordingLogger() });
      const started = Date.now();
      await withHarness(idaas, upstream, async (h) => {
        const err = upstreamError((await runFlow(h)).outcome, 'unavailable');
        assert.equal(err.detail.code, 'timeout');
      });
      assert.ok(Date.now() - started < 4000, 'did not wait for the slow upstream');
    });
  }

  it('reports an unreachable upstream as unavailable', async () => {
    const upstream = openOAuth2(idaasConfig(idaas, { tokenURL: 'http://127.0.0.1:1/oauth/token' }), { log: recordingLogger() });
    idaas.setFault(undefined);
    await withHarness(idaas, upstream, async (h) => {
      assert.equal(upstreamError((await runFlow(h)).outcome, 'unavailable').detail.code, 'unreachable');
    });
  });
});
