/**
 * Authorization requests are stored as an Interaction for `ttl.interaction` before anyone signs
 * in, so their size is capped (`requestLimits`, src/oidc/request-limits.ts): a parameter longer
 * than its cap, or a request whose parameters add up to more than the total, gets
 * `invalid_request` and nothing is stored. GET and POST are the same request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, RP, type Bridge } from '../helpers/bridge.js';

const good = { client_id: 'web', redirect_uri: `${RP}/cb`, response_type: 'code', scope: 'openid', state: 's', nonce: 'n' };

describe('authorization request size limits', () => {
  let bridge: Bridge;
  before(async () => {
    bridge = await startBridge();
  });
  after(() => bridge?.close());

  /** Where the authorization endpoint sends the browser: an interaction (stored) or the client (an error). */
  async function authorize(params: Record<string, string>, method: 'GET' | 'POST' = 'GET'): Promise<URL> {
    const query = new URLSearchParams(params).toString();
    const res =
      method === 'GET'
        ? await fetch(`${bridge.issuer}/auth?${query}`, { redirect: 'manual' })
        : await fetch(`${bridge.issuer}/auth`, {
            method: 'POST',
            redirect: 'manual',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: query,
          });
    assert.equal(res.status, 303, `${method} /auth answered ${res.status}`);
    return new URL(res.headers.get('location')!, bridge.issuer);
  }
  const isInteraction = (url: URL) => url.pathname.startsWith('/interaction/');

  for (const method of ['GET', 'POST'] as const) {
    it(`${method}: a parameter within its cap starts an interaction`, async () => {
      const url = await authorize({ ...good, state: 'x'.repeat(2048), nonce: 'y'.repeat(2048) }, method);
      assert.ok(isInteraction(url), `expected an interaction, got ${url.href}`);
    });

    it(`${method}: a parameter over its cap is invalid_request naming it, and nothing is stored`, async () => {
      for (const name of ['state', 'nonce', 'login_hint', 'claims_locales', 'acr_values']) {
        const url = await authorize({ ...good, [name]: 'x'.repeat(2049) }, method);
        assert.equal(url.origin, RP, `${name}: sent back to the client`);
        assert.equal(url.searchParams.get('error'), 'invalid_request', name);
        assert.match(url.searchParams.get('error_description') ?? '', new RegExp(`${name}.*2048`));
      }
    });

    it(`${method}: parameters each within the cap but together over the total are invalid_request`, async () => {
      const long = 'z'.repeat(2000);
      const params = { ...good, state: long, nonce: long, login_hint: long, acr_values: long, claims_locales: long, ui_locales: long };
      const url = await authorize(params, method);
      assert.equal(url.searchParams.get('error'), 'invalid_request');
      assert.match(url.searchParams.get('error_description') ?? '', /10240/);
    });
  }

  it('counts multi-byte characters as their UTF-8 bytes', async () => {
    const url = await authorize({ ...good, login_hint: '张'.repeat(700) }); // 2100 bytes, 700 characters
    assert.equal(url.searchParams.get('error'), 'invalid_request');
  });

  it('leaves id_token_hint to its own check: only an ID token this bridge signed passes it', async () => {
    const url = await authorize({ ...good, id_token_hint: 'e'.repeat(9000) });
    assert.equal(url.searchParams.get('error'), 'invalid_request');
    assert.match(url.searchParams.get('error_description') ?? '', /id_token_hint/);
  });

  it('follows the configured caps', async () => {
    const small = await startBridge({ configPatch: { requestLimits: { maxParameterBytes: 300 } } });
    try {
      const res = await fetch(`${small.issuer}/auth?${new URLSearchParams({ ...good, state: 's'.repeat(301) }).toString()}`, {
        redirect: 'manual',
      });
      const url = new URL(res.headers.get('location')!, small.issuer);
      assert.equal(url.searchParams.get('error'), 'invalid_request');
    } finally {
      await small.close();
    }
  });
});
