// Usernames through the whole bridge: an upstream marked `vouchesForUsernames` names its people as
// it says; one that is not (the default for oauth2/oidc) gives names that carry its prefix.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { exchange, login, relyingParty, webRedirect } from '../helpers/upstream-login.js';

describe('usernames and whether the upstream vouches for them', () => {
  let bridge: DoublesBridge;
  before(async () => {
    bridge = await startBridge({ upstream: 'doubles', store: 'memory', upstreamConfig: { oidc: { vouchesForUsernames: true } } });
  });
  after(() => bridge?.close());

  const usernameVia = async (upstream: 'idaas' | 'oidc') => {
    const rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic');
    const tokens = await exchange(rp, await login(rp, { redirectUri: webRedirect('idaas'), extra: { upstream } }));
    return tokens.claims()!.preferred_username;
  };

  it('a vouching upstream names its people as it says', async () => {
    assert.equal(await usernameVia('oidc'), 'lina');
  });

  it('an upstream that does not vouch gives names that carry its prefix', async () => {
    assert.equal(await usernameVia('idaas'), 'idaas-zhangwei');
  });
});
