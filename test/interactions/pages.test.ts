import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientFormActions, createPages, formActionSource, PAGE_NAMES, pageHeaders } from '../../src/pages/index.js';
import { testConfig } from './harness.js';

const config = testConfig('https://sso.example.test/base', {
  clients: [
    {
      client_id: 'app',
      client_secret: 's',
      redirect_uris: ['https://rp.example.test/cb'],
      post_logout_redirect_uris: ['https://rp.example.test/bye'],
    },
    {
      client_id: 'cli',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      redirect_uris: ['http://localhost:8000', 'com.example.app:/cb'],
    },
  ],
});
const pages = createPages(config);
const HOSTILE = '<script>alert("x")</script>';

const SAMPLE: Record<string, Record<string, unknown>> = {
  chooser: {
    clientName: HOSTILE,
    upstreams: [{ id: 'dingtalk', type: 'dingtalk', name: HOSTILE, initial: '<', href: '/base/interaction/u/upstream/dingtalk' }],
    abort: { action: '/base/interaction/u/abort', csrf: 'tok"en' },
    notice: HOSTILE,
  },
  consent: {
    clientName: HOSTILE,
    accountName: HOSTILE,
    accountInitial: '<',
    items: [{ key: 'consent.scopes.email' }, { key: 'consent.otherScope', params: { scope: HOSTILE } }],
    allowAction: '/a',
    denyAction: '/d',
    csrf: 'tok',
  },
  logout: { formHtml: '<form id="op.logoutForm"></form>', formId: 'op.logoutForm', clientName: HOSTILE },
  'logout-success': { clientName: HOSTILE },
  'device-input': { form: { action: '/base/device', xsrf: 'x"srf' }, userCode: HOSTILE, problem: 'wrongCode' },
  'device-confirm': { form: { action: '/base/device', xsrf: 'x"srf' }, userCode: HOSTILE, clientName: HOSTILE },
  'device-success': { clientName: HOSTILE },
  'errors/not-allowed': { clientName: HOSTILE, upstreamName: HOSTILE, hint: HOSTILE, code: HOSTILE },
  'errors/ask-your-admin': { clientName: HOSTILE, upstreamName: HOSTILE, hint: HOSTILE, code: HOSTILE },
  'errors/upstream-failed': { clientName: HOSTILE, upstreamName: HOSTILE, retryHref: '/retry', abort: { action: '/x', csrf: 't' } },
  'dingtalk-in-app': {
    clientName: HOSTILE,
    upstreamName: HOSTILE,
    action: '/base/interaction/u/upstream/dingtalk/in-app',
    csrf: 'tok"en',
    corpId: HOSTILE,
    clientId: 'ding"app',
    timeoutMs: 5000,
    fallbackHref: '/base/interaction/u/upstream/dingtalk?inApp=off',
    nonce: 'n0nce',
    jsapiSrc: '/base/assets/dingtalk-jsapi.js?v=1',
    scriptSrc: '/base/assets/dingtalk-in-app.js?v=2',
  },
  'errors/expired': {},
  'errors/invalid-link': {},
  'errors/generic': { messageKey: 'errors.oauth', error: HOSTILE, description: HOSTILE },
};

describe('pages', () => {
  for (const name of PAGE_NAMES) {
    for (const locale of ['zh-CN', 'en'] as const) {
      it(`renders ${name} in ${locale}, escaped, with a lang attribute, one h1 and our stylesheet only`, () => {
        const html = pages.render(name, { requestId: 'req-1', ...SAMPLE[name] }, locale);
        assert.match(html, new RegExp(`<html lang="${locale}">`));
        assert.equal(html.match(/<h1 /g)?.length, 1);
        // Only the in-app page has scripts: its own two files, by nonce, never inline.
        const scripts = html.match(/<script\b[^>]*>/g) ?? [];
        if (name === 'dingtalk-in-app') {
          assert.deepEqual(scripts, [
            '<script nonce="n0nce" src="/base/assets/dingtalk-jsapi.js?v=1">',
            '<script nonce="n0nce" src="/base/assets/dingtalk-in-app.js?v=2">',
          ]);
          assert.equal(html.match(/<script\b[^>]*><\/script>/g)?.length, 2, 'no inline script');
        } else assert.deepEqual(scripts, [], 'raw markup from data reached the page');
        if (Object.values(SAMPLE[name]!).includes(HOSTILE))
          assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'), 'the data is shown, escaped');
        assert.match(html, /<link rel="stylesheet" href="\/base\/assets\/bridge\.css\?v=[A-Za-z0-9_-]{16}">/);
        assert.doesNotMatch(html, /https?:\/\/(?!sso\.example\.test)/, 'a third-party resource');
        assert.doesNotMatch(html, /\{\w+\}/, 'an uninterpolated placeholder');
        assert.match(html, /<title>[^<]+ · [^<]+<\/title>/);
        if (locale === 'zh-CN') assert.match(html, /[\u4e00-\u9fff]/);
      });
    }
  }

  it('falls back to the default locale for an unsupported one', () => {
    assert.match(pages.render('errors/expired', {}, 'fr'), /<html lang="zh-CN">/);
    assert.match(pages.render('errors/expired', {}, 'en-GB'), /<html lang="en">/);
  });

  it('renders the logout page around oidc-provider’s form with two submit buttons bound to it', () => {
    const formHtml =
      '<form id="op.logoutForm" method="post" action="/base/session/end/confirm"><input type="hidden" name="xsrf" value="abc"/></form>';
    const html = pages.logout({ formHtml, clientName: 'Grafana', locale: 'en' });
    assert.ok(html.includes(formHtml));
    assert.match(
      html,
      /<button class="button button--primary" type="submit" form="op\.logoutForm" name="logout" value="yes" autofocus>Sign out<\/button>/,
    );
    assert.match(html, /<button class="button" type="submit" form="op\.logoutForm">Stay signed in<\/button>/);
    assert.match(html, /Grafana/);
    assert.match(pages.logoutSuccess({ clientName: 'Grafana', locale: 'zh-CN' }), /你已退出 Grafana/);
  });

  it('renders OAuth errors with the code and the client-safe description, but not for server errors', () => {
    const bad = pages.error({ error: 'invalid_request', description: 'redirect_uri did not match', locale: 'en', status: 400 });
    assert.match(bad, /redirect_uri did not match/);
    assert.match(bad, /Error: invalid_request/);
    const oops = pages.error({ error: 'server_error', description: 'oops <details>', locale: 'en', status: 500 });
    assert.doesNotMatch(oops, /oops/);
    assert.match(oops, /Something went wrong/);
    assert.match(pages.error({ error: 'temporarily_unavailable', locale: 'zh-CN', status: 503 }), /登录服务暂时不可用/);
  });

  it('refuses unknown page names', () => {
    assert.throws(() => pages.render('../../etc/passwd' as never, {}, 'en'), /unknown page/);
  });
});

describe('page headers', () => {
  it('forbid framing, scripts, third-party resources, referrers and caching', () => {
    const headers = pageHeaders();
    assert.equal(
      headers['Content-Security-Policy'],
      "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    assert.equal(headers['X-Frame-Options'], 'DENY');
    assert.equal(headers['Referrer-Policy'], 'no-referrer');
    assert.equal(headers['Cache-Control'], 'no-store');
  });

  it('let the one page with scripts run only the tags carrying its nonce', () => {
    assert.equal(
      pageHeaders([], { scriptNonce: 'abc' })['Content-Security-Policy'],
      "default-src 'none'; script-src 'nonce-abc'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
  });

  it('let forms end in the client’s redirect origins (loopback on any port, private-use schemes)', () => {
    assert.deepEqual(clientFormActions(config.clients[0]), ['https://rp.example.test']);
    assert.deepEqual(clientFormActions(config.clients[1]), ['com.example.app:', 'http://localhost:*']);
    assert.match(
      pageHeaders(clientFormActions(config.clients[0]))['Content-Security-Policy']!,
      /form-action 'self' https:\/\/rp\.example\.test;/,
    );
    const logout = clientFormActions({ post_logout_redirect_uris: config.clients[0]!.post_logout_redirect_uris });
    assert.match(pageHeaders(logout)['Content-Security-Policy']!, /form-action 'self' https:\/\/rp\.example\.test;/);
  });

  it('never turns a redirect URI into a source that would open more than its origin', () => {
    assert.equal(formActionSource('javascript:alert(1)'), undefined);
    assert.equal(formActionSource('data:text/html,x'), undefined);
    assert.equal(formActionSource('not a url'), undefined);
    assert.equal(formActionSource("https://rp.example.test/cb?x='; script-src *"), 'https://rp.example.test');
    assert.equal(formActionSource('http://127.0.0.1:9000/cb'), 'http://127.0.0.1:*');
  });
});
