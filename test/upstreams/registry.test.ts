import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import passport from 'passport';
import { upstreamSchema, type UpstreamConfig } from '../../src/config/schema.js';
import { defaultUpstreamFactories, openUpstreams } from '../../src/upstreams/registry.js';
import { UpstreamError, type Connector } from '../../src/upstreams/types.js';
import { startFakeIdaas, type FakeIdaas } from '../doubles/fake-idaas.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../doubles/fake-oidc-issuer.js';
import { recordingLogger, runFlow, startHarness } from './harness.js';

/** A connector's sign-in steps, for fakes whose sign-in is never used. */
const unusedLeg = {
  loginUrl: () => {
    throw new Error('not used');
  },
  handleCallback: () => Promise.reject(new Error('not used')),
};

describe('upstream registry', () => {
  let idaas: FakeIdaas;
  let issuer: FakeOidcIssuer;
  let configs: UpstreamConfig[];
  before(async () => {
    idaas = await startFakeIdaas();
    issuer = await startFakeOidcIssuer();
    configs = [
      {
        id: 'idaas',
        type: 'oauth2',
        preset: 'aliyun-idaas',
        baseURL: idaas.url,
        clientId: idaas.clientId,
        clientSecret: idaas.clientSecret,
        displayName: 'IDaaS',
      },
      { id: 'eiam', type: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
    ].map((c) => upstreamSchema.parse(c));
  });
  after(async () => {
    await idaas.close();
    await issuer.close();
  });

  it('builds every configured upstream, in config order', async () => {
    const registry = await openUpstreams(configs, { log: recordingLogger() });
    assert.deepEqual(
      registry.all().map((u) => [u.id, u.type]),
      [
        ['idaas', 'oauth2'],
        ['eiam', 'oidc'],
      ],
    );
    assert.equal(registry.get('idaas')?.displayName, 'IDaaS');
    assert.equal(registry.get('eiam')?.displayName, 'eiam');
    assert.equal(registry.get('nope'), undefined);
    assert.ok(
      registry.get('idaas')?.createStrategy('http://127.0.0.1/cb', { begin: async () => 's', finish: async () => ({}) }) instanceof
        passport.Strategy,
      'a passport strategy',
    );
    await registry.close();
  });

  it('builds a dingtalk upstream through a plugged-in factory with the shared deps', async () => {
    const dingtalk = upstreamSchema.parse({ id: 'dingtalk', type: 'dingtalk', clientId: 'k', clientSecret: 's', corpId: 'ding1' });
    const seen: unknown[] = [];
    const log = recordingLogger();
    const registry = await openUpstreams(
      [dingtalk],
      { log },
      {
        ...defaultUpstreamFactories,
        dingtalk: (config, deps) => {
          seen.push(config.corpId, deps.log);
          return { id: config.id, type: 'dingtalk', displayName: 'DingTalk', ...unusedLeg };
        },
      },
    );
    assert.deepEqual(seen, ['ding1', log]);
    assert.equal(registry.get('dingtalk')?.type, 'dingtalk');
  });

  it('logs a failing start-up without rejecting, and retries it on first use', async () => {
    issuer.setFault('discovery_500');
    const log = recordingLogger();
    const registry = await openUpstreams(configs, { log });
    await registry.init();
    const failure = log.lines.find((l) => l.level === 'warn' && l.details.upstream === 'eiam');
    assert.ok(failure, 'the failure is logged');
    assert.equal(failure.details.reason, 'unavailable');
    issuer.setFault(undefined);
    const harness = await startHarness(registry.get('eiam')!, issuer);
    try {
      assert.equal((await runFlow(harness)).outcome.identity?.subject, 'user-1');
      assert.ok(
        log.lines.some((l) => l.level === 'info' && l.details.upstream === 'eiam' && l.message === 'upstream ready'),
        'recovery is logged',
      );
    } finally {
      await harness.close();
    }
  });

  it('runs a start-up step once it has succeeded, also for rechecks', async () => {
    let inits = 0;
    let rechecks = 0;
    const fake: Connector = {
      id: 'x',
      type: 'oauth2',
      displayName: 'x',
      ...unusedLeg,
      async init() {
        inits += 1;
        if (inits === 1) throw new Error('first start-up fails');
      },
      async recheck(identity) {
        rechecks += 1;
        return identity;
      },
    };
    const config = upstreamSchema.parse({
      id: 'x',
      type: 'oauth2',
      clientId: 'c',
      clientSecret: 's',
      ...idaas.endpoints,
      claims: { subject: 'sub' },
    });
    const registry = await openUpstreams([config], { log: recordingLogger() }, { ...defaultUpstreamFactories, oauth2: () => fake });
    await registry.init();
    const upstream = registry.get('x')!;
    const identity = { upstream: 'x', subject: 's', linkDomain: 'd', linkKey: 's', usernameHints: [], groups: [], extra: {} };
    assert.equal(await upstream.recheck!(identity), identity);
    await upstream.recheck!(identity);
    assert.equal(inits, 2, 'retried once after the failure, then never again');
    assert.equal(rechecks, 2);
  });

  it('hands an init failure that is not an UpstreamError to strategies as UpstreamError(unavailable)', async () => {
    const fake: Connector = {
      id: 'x',
      type: 'oauth2',
      displayName: 'x',
      ...unusedLeg,
      init: async () => {
        throw new Error('boom');
      },
    };
    const config = upstreamSchema.parse({
      id: 'x',
      type: 'oauth2',
      clientId: 'c',
      clientSecret: 's',
      ...idaas.endpoints,
      claims: { subject: 'sub' },
    });
    const registry = await openUpstreams([config], { log: recordingLogger() }, { ...defaultUpstreamFactories, oauth2: () => fake });
    const harness = await startHarness(registry.get('x')!, idaas);
    try {
      const { outcome } = await runFlow(harness);
      assert.ok(outcome.err instanceof UpstreamError, String(outcome.err));
      assert.equal(outcome.err.reason, 'unavailable');
    } finally {
      await harness.close();
    }
  });
});
