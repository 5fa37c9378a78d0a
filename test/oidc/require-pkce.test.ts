/**
 * PKCE per client (`requirePkce`, src/oidc/configuration.ts): always required of public clients;
 * required of a confidential client whose operator turned it on (Grafana, Argo CD and others send
 * it), so a code stolen from its redirect cannot be redeemed without the verifier; optional for the
 * confidential clients that send none (KubeSphere 3.x).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startBridge, TEST_CLIENTS, type Bridge } from '../helpers/bridge.js';
import { basic, postForm } from '../helpers/oidc-rp.js';

const GRAFANA_CB = 'https://grafana.example.test/login/generic_oauth';

describe('requirePkce', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge({
      clients: [
        ...TEST_CLIENTS,
        {
          client_id: 'grafana',
          client_secret: 'grafana-secret',
          redirect_uris: [GRAFANA_CB],
          skipConsent: true,
          requirePkce: true,
        },
      ],
    });
  });
  after(() => bridge?.close());

  /** The first redirect of an authorization request: to the client (an error) or into the login. */
  async function authorize(clientId: string, redirectUri: string, extra: Record<string, string> = {}): Promise<URL> {
    const query = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      state: 's',
      ...extra,
    });
    const res = await fetch(`${bridge.issuer}/auth?${query.toString()}`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    return new URL(res.headers.get('location')!, bridge.issuer);
  }

  it('refuses an authorization request without PKCE from a confidential client that requires it', async () => {
    const url = await authorize('grafana', GRAFANA_CB);
    assert.equal(url.origin, new URL(GRAFANA_CB).origin);
    assert.equal(url.searchParams.get('error'), 'invalid_request');
    assert.match(url.searchParams.get('error_description') ?? '', /code_challenge|PKCE/i);
  });

  it('accepts it with S256', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const started = await authorize('grafana', GRAFANA_CB, { code_challenge: challenge, code_challenge_method: 'S256' });
    assert.match(started.pathname, /^\/interaction\//, 'the login starts');
  });

  it('leaves PKCE optional for a confidential client that did not ask for it', async () => {
    const url = await authorize('web', 'https://rp.example.test/cb');
    assert.match(url.pathname, /^\/interaction\//);
  });

  it('still requires it of public clients', async () => {
    const url = await authorize('cli', 'http://127.0.0.1:8000/cb');
    assert.equal(url.searchParams.get('error'), 'invalid_request');
  });

  it('keeps requirePkce out of the metadata oidc-provider sees', async () => {
    // An unknown metadata key would make oidc-provider refuse the client at start-up or drop it silently.
    const res = await postForm(
      `${bridge.issuer}/token`,
      { grant_type: 'authorization_code', code: 'x', redirect_uri: GRAFANA_CB },
      {
        authorization: basic('grafana', 'grafana-secret'),
      },
    );
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant', 'the client authenticates as configured');
  });
});
