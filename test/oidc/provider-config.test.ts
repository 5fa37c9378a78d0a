/** Start-up checks and features that depend on the configured clients. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, TEST_CLIENTS } from '../helpers/bridge.js';
import { basic, postForm } from '../helpers/oidc-rp.js';

describe('provider configuration', () => {
  it('refuses to start with a client registered for an algorithm no key signs', async () => {
    await assert.rejects(
      startBridge({
        configPatch: {
          clients: [
            ...TEST_CLIENTS,
            { client_id: 'ps', client_secret: 's', redirect_uris: ['https://ps.example.test/cb'], id_token_signed_response_alg: 'PS256' },
          ],
        },
      }),
      /id_token_signed_response_alg/,
      'PS256 is not offered: the keys are RS256 and ES256',
    );
  });

  it('offers client_credentials only when a client is configured for it', async () => {
    const bridge = await startBridge({
      configPatch: {
        clients: [
          ...TEST_CLIENTS,
          {
            client_id: 'svc',
            client_secret: 'svc-secret',
            redirect_uris: ['https://svc.example.test/cb'],
            grant_types: ['client_credentials'],
          },
        ],
      },
    });
    try {
      const discovery = (await (await fetch(`${bridge.issuer}/.well-known/openid-configuration`)).json()) as {
        grant_types_supported: string[];
      };
      assert.ok(discovery.grant_types_supported.includes('client_credentials'));
      const res = await postForm(
        `${bridge.issuer}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basic('svc', 'svc-secret') },
      );
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { expires_in: number }).expires_in, bridge.config.ttl.accessToken);
      const refused = await postForm(
        `${bridge.issuer}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basic('web', 'web-secret') },
      );
      assert.equal(refused.status, 400);
    } finally {
      await bridge.close();
    }
  });
});
