// Upstream faults through the whole bridge. A token response without access_token, an
// IDaaS userinfo with `success: false`, an OIDC ID token with the wrong nonce or a bad signature,
// and a slow upstream (timeoutMs 300) each end on the upstream-failed page (502) naming the upstream,
// with a retry link that works once the upstream is healthy again; nothing hangs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import type { FakeIdaasFault } from '../doubles/fake-idaas.js';
import type { FakeOidcFault } from '../doubles/fake-oidc-issuer.js';
import { COOKIE_SECRET, startBridge, type DoublesBridge } from '../helpers/bridge.js';
import { headingOf, message, retryHrefOf } from '../helpers/pages.js';
import {
  assertSafePage,
  DISPLAY_NAMES,
  exchange,
  login,
  relyingParty,
  secretOf,
  STORES,
  webRedirect,
  type Doubles,
  type LoginLeg,
} from '../helpers/upstream-login.js';

const TIMEOUT_MS = 300;

type Case = { upstream: 'idaas'; fault: FakeIdaasFault; label: string } | { upstream: 'oidc'; fault: FakeOidcFault; label: string };

const CASES: Case[] = [
  { upstream: 'idaas', fault: 'token_without_access_token', label: 'a token response without access_token' },
  { upstream: 'idaas', fault: 'token_error_body', label: 'a 200 token response carrying an error' },
  { upstream: 'idaas', fault: 'userinfo_unsuccessful', label: 'IDaaS userinfo with success:false' },
  { upstream: 'idaas', fault: 'token_500', label: 'a token endpoint answering 500' },
  { upstream: 'idaas', fault: 'token_slow', label: 'a token endpoint slower than timeoutMs' },
  { upstream: 'idaas', fault: 'userinfo_slow', label: 'a userinfo endpoint slower than timeoutMs' },
  { upstream: 'oidc', fault: 'wrong_nonce', label: 'an ID token with another nonce' },
  { upstream: 'oidc', fault: 'bad_signature', label: 'an ID token signed by a key not in the JWKS' },
  { upstream: 'oidc', fault: 'no_id_token', label: 'a token response without id_token' },
  { upstream: 'oidc', fault: 'token_slow', label: 'a token endpoint slower than timeoutMs' },
];

for (const store of STORES) {
  describe(`upstream faults through the bridge (${store} store)`, () => {
    let doubles: Doubles;
    let bridge: DoublesBridge;
    let rp: client.Configuration;

    before(async () => {
      // Slow faults answer after 10 s (or never: closing the doubles cancels them); the bridge gives up after 300 ms.
      bridge = await startBridge({
        upstream: 'doubles',
        store,
        doubles: { idaas: { slowMs: 10_000 }, oidc: { slowMs: 10_000 } },
        upstreamConfig: { idaas: { timeoutMs: TIMEOUT_MS }, oidc: { timeoutMs: TIMEOUT_MS } },
      });
      doubles = bridge.doubles;
      rp = await relyingParty(bridge.issuer, 'web-idaas', 'basic'); // offers idaas and oidc
    });
    after(async () => {
      await bridge?.close();
    });

    const setFault = (c: Case | undefined) => {
      doubles.idaas.setFault(c?.upstream === 'idaas' ? c.fault : undefined);
      doubles.oidc.setFault(c?.upstream === 'oidc' ? c.fault : undefined);
    };

    for (const c of CASES) {
      it(`${c.upstream}: ${c.label} → upstream-failed page (502) with a working retry link`, async () => {
        setFault(c);
        let leg: LoginLeg;
        const started = Date.now();
        try {
          leg = await login(rp, { redirectUri: webRedirect('idaas'), extra: { upstream: c.upstream } });
        } finally {
          setFault(undefined);
        }
        const elapsed = Date.now() - started;
        assert.ok(leg.page, `the login stopped on a page, not at the RP (${leg.callback.href})`);
        assert.equal(leg.page.status, 502);
        assert.equal(
          headingOf(leg.page.html),
          message('zh-CN', 'errors.upstreamFailed.title', { upstream: DISPLAY_NAMES[c.upstream]['zh-CN'] }),
        );
        assert.ok(elapsed < 6000, `answered in ${elapsed} ms: nothing hangs`);
        if (c.fault.endsWith('_slow')) {
          assert.ok(leg.page.html.includes(message('zh-CN', 'common.detailCode', { code: 'timeout' })), 'the page says it timed out');
        }
        assertSafePage(leg.page.html, [
          COOKIE_SECRET,
          secretOf('web-idaas'),
          doubles.idaas.clientSecret,
          doubles.oidc.clientSecret,
          leg.state,
          leg.nonce,
        ]);

        const retry = retryHrefOf(leg.page.html);
        assert.match(retry ?? '', /\/interaction\/[^/]+$/, 'a retry link back to the sign-in');
        const { url } = await leg.browser.follow(new URL(retry!, bridge.issuer), (u) => u.href.startsWith(webRedirect('idaas')));
        const { page: _failed, ...rest } = leg;
        const tokens = await exchange(rp, { ...rest, callback: url });
        assert.ok(tokens.claims()?.sub, 'retrying against the healthy upstream signs in');
      });
    }

    it('speaks the language of the authorization request (ui_locales=en)', async () => {
      doubles.idaas.setFault('userinfo_unsuccessful');
      let leg: LoginLeg;
      try {
        leg = await login(rp, { redirectUri: webRedirect('idaas'), extra: { upstream: 'idaas', ui_locales: 'en' } });
      } finally {
        doubles.idaas.setFault(undefined);
      }
      assert.equal(leg.page?.status, 502);
      assert.equal(headingOf(leg.page.html), message('en', 'errors.upstreamFailed.title', { upstream: DISPLAY_NAMES.idaas.en }));
    });
  });
}
