import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outcomeFor } from '../../src/interactions/answer.js';
import { describeConsent } from '../../src/interactions/consent-prompt.js';
import { offeredUpstreams, type Ctx } from '../../src/interactions/context.js';
import { chooseUpstream } from '../../src/interactions/login-prompt.js';
import { SCOPE_CLAIMS, SCOPES } from '../../src/oidc/scopes.js';
import { createPages } from '../../src/pages/index.js';
import { UpstreamError } from '../../src/upstreams/types.js';
import { FakeRegistry, fakeUpstream, testConfig } from './harness.js';

describe('outcomeFor', () => {
  const of = (reason: UpstreamError['reason']) => outcomeFor(new UpstreamError('dingtalk', reason, 'x'));

  it('sends a cancelled sign-in back to the client as access_denied', () => {
    assert.deepEqual(of('denied'), { error: 'access_denied', error_description: 'sign-in cancelled' });
  });

  it('answers everything else with a page and its status', () => {
    assert.deepEqual(of('not_allowed'), { view: 'errors/not-allowed', status: 403 });
    assert.deepEqual(of('misconfigured'), { view: 'errors/ask-your-admin', status: 502 });
    assert.deepEqual(of('unavailable'), { view: 'errors/upstream-failed', status: 502 });
    assert.deepEqual(of('failed'), { view: 'errors/upstream-failed', status: 502 });
  });
});

describe('upstream choice', () => {
  const dingtalk = fakeUpstream('dingtalk', 'dingtalk', '钉钉');
  const idaas = fakeUpstream('idaas', 'oauth2', 'IDaaS');
  const registry = new FakeRegistry([dingtalk, idaas]);

  it('offers the client’s upstreams in its order, default all, leaving out any that did not load', () => {
    const offered = (upstreams?: string[]) => {
      const ctx = {
        config: testConfig('https://sso.example.test'),
        upstreams: registry,
        interactions: { clientExtras: () => ({ upstreams }) },
      } as unknown as Ctx;
      return offeredUpstreams(ctx, { clientId: 'app' }).map((u) => u.id);
    };
    assert.deepEqual(offered(undefined), ['dingtalk', 'idaas']);
    assert.deepEqual(offered(['idaas', 'dingtalk']), ['idaas', 'dingtalk']);
    assert.deepEqual(offered(['idaas', 'gone']), ['idaas']);
  });

  it('starts the named upstream, refuses an unknown or disallowed one, never falls back', () => {
    assert.deepEqual(chooseUpstream('idaas', [dingtalk, idaas]), { kind: 'start', upstream: idaas });
    assert.deepEqual(chooseUpstream('github', [dingtalk, idaas]), { kind: 'invalid', requested: 'github' });
    assert.deepEqual(chooseUpstream('dingtalk', [idaas]), { kind: 'invalid', requested: 'dingtalk' });
    assert.deepEqual(chooseUpstream(['idaas', 'idaas'], [dingtalk, idaas]), { kind: 'invalid', requested: 'idaas,idaas' });
  });

  it('goes straight to the only upstream, else lets the person choose', () => {
    assert.deepEqual(chooseUpstream(undefined, [idaas]), { kind: 'start', upstream: idaas });
    assert.deepEqual(chooseUpstream('', [dingtalk, idaas]), { kind: 'choose', upstreams: [dingtalk, idaas] });
    assert.deepEqual(chooseUpstream(undefined, []), { kind: 'none' });
  });
});

describe('consent details', () => {
  const pages = createPages(testConfig('https://sso.example.test'));
  const itemsFor = (scopes: string[], claims: string[]) => describeConsent(scopes, claims, (key) => pages.hasMessage(key));

  it('lists known scopes in reading order, then unknown ones', () => {
    assert.deepEqual(
      itemsFor(['offline_access', 'email', 'openid', 'api:read'], []).map((i) => i.key),
      ['consent.scopes.openid', 'consent.scopes.email', 'consent.scopes.offline_access', 'consent.otherScope'],
    );
    assert.deepEqual(itemsFor(['api:read'], [])[0]!.params, { scope: 'api:read' });
  });

  it('adds claims asked on their own unless a listed scope covers them', () => {
    const items = itemsFor(['openid', 'profile'], ['name', 'email', 'email_verified', 'shoe_size', 'email']);
    assert.deepEqual(
      items.map((i) => i.key),
      ['consent.scopes.openid', 'consent.scopes.profile', 'consent.claims.email', 'consent.otherClaim'],
    );
    assert.deepEqual(items[3]!.params, { claim: 'shoe_size' });
  });

  it('has words for every scope the bridge accepts, and lists claims from src/oidc/scopes.ts only', () => {
    for (const scope of SCOPES) assert.ok(pages.hasMessage(`consent.scopes.${scope}`), scope);
    const claims = Object.values(SCOPE_CLAIMS).flat();
    const items = itemsFor([], claims);
    assert.ok(
      items.every((i) => i.key.startsWith('consent.claims.')),
      JSON.stringify(items),
    );
    assert.deepEqual(
      itemsFor(['phone'], ['phone_number', 'phone_number_verified', 'dingtalk_userid']).map((i) => i.key),
      ['consent.scopes.phone', 'consent.claims.dingtalk_userid'],
    );
  });
});
