/** Locale choice and escaping of the pages oidc-provider renders; client metadata split from our extras. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientExtrasMap, clientMetadataOf, claimPolicyOf } from '../../src/oidc/clients.js';
import { escapeHtml, negotiateLocale, plainPages } from '../../src/pages/index.js';
import { configSchema } from '../../src/config/schema.js';

describe('pages', () => {
  it('picks the first supported locale from ui_locales, then Accept-Language by q-value, then the default', () => {
    const pick = (uiLocales: unknown, acceptLanguage: string | undefined, defaultLocale: 'zh-CN' | 'en') =>
      negotiateLocale({ uiLocales, acceptLanguage, defaultLocale });
    assert.equal(pick('fr en-US', undefined, 'zh-CN'), 'en');
    assert.equal(pick('zh-CN en', 'en', 'en'), 'zh-CN');
    assert.equal(pick(undefined, 'de;q=1, zh-TW;q=0.8', 'en'), 'zh-CN');
    assert.equal(pick(undefined, 'en;q=0.1, zh-CN', 'en'), 'zh-CN', 'q-values count, not the order');
    assert.equal(pick(undefined, 'de', 'en'), 'en');
    assert.equal(pick(['en'], '', 'zh-CN'), 'zh-CN', 'a repeated parameter is ignored, not trusted');
  });

  it('escapes everything it prints', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const html = plainPages.error({ error: '<script>', description: '"><img src=x>', locale: 'en', status: 400 });
    assert.doesNotMatch(html, /<script>|<img/);
    const logout = plainPages.logout({ formHtml: '<form id="op.logoutForm"></form>', clientName: '<b>x</b>', locale: 'zh-CN' });
    assert.match(logout, /<form id="op.logoutForm"><\/form>/, 'the provider form is printed as is');
    assert.doesNotMatch(logout, /<b>x<\/b>/);
    assert.match(logout, /form="op.logoutForm" name="logout" value="yes"/);
  });
});

describe('client metadata', () => {
  const config = configSchema.parse({
    issuer: 'https://sso.example.test',
    cookieSecrets: ['x'.repeat(32)],
    upstreams: [{ id: 'test', type: 'oidc', issuer: 'https://up.example.test', clientId: 'c' }],
    clients: [
      {
        client_id: 'ks',
        client_secret: 's',
        redirect_uris: ['https://ks.example.test/cb'],
        skipConsent: true,
        upstreams: ['test'],
        emitEmail: 'any',
      },
    ],
  });

  it('gives oidc-provider standard metadata only and keeps our keys beside it', () => {
    const metadata = clientMetadataOf(config.clients[0]!) as Record<string, unknown>;
    for (const key of ['skipConsent', 'upstreams', 'emitEmail', 'groups', 'resourceServer', 'requirePkce'])
      assert.equal(key in metadata, false, key);
    assert.equal(metadata.client_id, 'ks');
    const extras = clientExtrasMap(config).get('ks');
    assert.deepEqual(extras, { skipConsent: true, upstreams: ['test'], emitEmail: 'any', resourceServer: false, requirePkce: false });
    assert.deepEqual(claimPolicyOf(extras), { emitEmail: 'any' });
    assert.deepEqual(claimPolicyOf(undefined), { emitEmail: 'verified' });
  });
});
