import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeConsent } from '../../src/interactions/consent-details.js';
import { outcomeFor } from '../../src/interactions/outcome.js';
import { allowedUpstreams, chooseUpstream } from '../../src/interactions/upstream-choice.js';
import { UpstreamError } from '../../src/upstreams/types.js';
import { FakeRegistry, fakeUpstream } from './harness.js';

describe('outcomeFor (STYLE §4)', () => {
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

  it('offers the client’s upstreams in its order, default all', () => {
    assert.deepEqual(allowedUpstreams(undefined, registry).map((u) => u.id), ['dingtalk', 'idaas']);
    assert.deepEqual(allowedUpstreams({ upstreams: ['idaas', 'dingtalk'] }, registry).map((u) => u.id), ['idaas', 'dingtalk']);
    assert.deepEqual(allowedUpstreams({ upstreams: ['idaas', 'gone'] }, registry).map((u) => u.id), ['idaas']);
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
  it('lists known scopes in reading order, then unknown ones', () => {
    assert.deepEqual(describeConsent(['offline_access', 'email', 'openid', 'api:read'], []).map((i) => i.key), [
      'consent.scopes.openid', 'consent.scopes.email', 'consent.scopes.offline_access', 'consent.otherScope',
    ]);
    assert.deepEqual(describeConsent(['api:read'], [])[0]!.params, { scope: 'api:read' });
  });

  it('adds claims asked on their own unless a listed scope covers them', () => {
    const items = describeConsent(['openid', 'profile'], ['name', 'email', 'email_verified', 'shoe_size', 'email']);
    assert.deepEqual(items.map((i) => i.key), ['consent.scopes.openid', 'consent.scopes.profile', 'consent.claims.email', 'consent.otherClaim']);
    assert.deepEqual(items[3]!.params, { claim: 'shoe_size' });
  });
});
