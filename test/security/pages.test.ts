/**
 * RFC 9700 §4.16 (clickjacking), §4.7 / RFC 6749 §10.12 (CSRF) and §4.12 (307 after POST) on every
 * page and form the bridge serves, through the production wiring (the OIDC double as upstream):
 * the chooser, consent, error and logout pages; each answers with anti-framing headers, each POST
 * form carries its anti-CSRF field, and each POST the browser submits ends in a 303.
 * https://www.rfc-editor.org/rfc/rfc9700#section-4.16
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBridge, type OidcIssuerBridge } from '../helpers/bridge.js';
import { chooserOptions, unescapeHtml } from '../helpers/pages.js';
import { HtmlBrowser } from '../conformance/rp.js';
import { POST_LOGOUT, REDIRECT, RP, webClient } from '../conformance/op.js';

/** Anti-framing (both the old and the CSP way) on a page. */
function assertNotFramable(res: Response, what: string): void {
  assert.equal(res.headers.get('x-frame-options'), 'DENY', `x-frame-options on ${what}`);
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, `CSP frame-ancestors on ${what}`);
}

interface Form {
  action: string;
  fields: Record<string, string>;
}

/** Every POST form of a page with its hidden fields; each must carry an anti-CSRF field. */
function postForms(html: string, what: string): Form[] {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].filter((m) => /method="post"/i.test(m[1]!));
  return forms.map((m) => {
    const action = unescapeHtml(/action="([^"]*)"/.exec(m[1]!)?.[1] ?? '');
    const fields = Object.fromEntries(
      [...m[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((f) => [f[1]!, unescapeHtml(f[2]!)]),
    );
    assert.ok((fields.csrf ?? fields.xsrf ?? '').length >= 16, `${what}: the form to ${action} carries an anti-CSRF token`);
    return { action, fields };
  });
}

describe('anti-framing, CSRF and 303 on every page and form', () => {
  let op: OidcIssuerBridge;
  before(async () => {
    op = await startBridge({
      upstream: 'oidc-issuer',
      clients: [webClient('pages', { skipConsent: false, upstreams: ['corp', 'backup'] })],
    });
  });
  after(() => op.close());

  const authUrl = (extra: Record<string, string> = {}) =>
    new URL(
      `${op.issuer}/auth?${new URLSearchParams({ client_id: 'pages', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 's', ...extra })}`,
    );

  /** To the chooser page: its URL, response and HTML. */
  async function chooser(browser: HtmlBrowser) {
    const { url, response } = await browser.follow(authUrl(), (u) => u.origin === RP);
    assert.equal(response.status, 200);
    return { url, response, html: await response.text() };
  }

  async function submit(browser: HtmlBrowser, base: URL, form: Form, extra: Record<string, string> = {}) {
    return browser.fetch(new URL(form.action, base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...extra }).toString(),
    });
  }

  it('chooser and consent pages: not framable, every form CSRF-protected; consent answers 303', async () => {
    const browser = new HtmlBrowser();
    const page = await chooser(browser);
    assertNotFramable(page.response, 'the chooser');
    assert.equal(postForms(page.html, 'the chooser').length, 1, 'the cancel form');
    const corp = chooserOptions(page.html).find((o) => o.id === 'corp')!;
    const { url, response } = await browser.follow(new URL(corp.href, page.url), (u) => u.origin === RP);
    assert.equal(response.status, 200, 'the consent page');
    assertNotFramable(response, 'the consent page');
    const forms = postForms(await response.text(), 'the consent page');
    const allow = forms.find((f) => f.action.endsWith('/consent'));
    assert.ok(allow, 'an allow form');
    const withoutToken = await submit(browser, url, { action: allow.action, fields: {} });
    assert.equal(withoutToken.status, 403, 'no CSRF token, no consent');
    await withoutToken.arrayBuffer();
    const allowed = await submit(browser, url, allow);
    assert.equal(allowed.status, 303, 'RFC 9700 §4.12: 303 after a POST, never 307');
  });

  it('cancel (abort) answers 303 and takes a CSRF token', async () => {
    const browser = new HtmlBrowser();
    const page = await chooser(browser);
    const [abort] = postForms(page.html, 'the chooser');
    const forged = await submit(browser, page.url, abort!, { csrf: 'forged-token-forged-token' });
    assert.equal(forged.status, 403);
    await forged.arrayBuffer();
    const res = await submit(browser, page.url, abort!);
    assert.equal(res.status, 303);
  });

  it('an authorization request sent as a POST is answered with 303', async () => {
    const url = authUrl();
    const res = await new HtmlBrowser().fetch(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: url.searchParams.toString(),
    });
    assert.equal(res.status, 303);
  });

  it('logout: the confirmation page is not framable, its form carries xsrf, and confirming answers 303', async () => {
    const browser = new HtmlBrowser();
    const signedIn = await browser.follow(authUrl({ upstream: 'corp', prompt: 'consent' }), (u) => u.origin === RP);
    const allow = postForms(await signedIn.response.text(), 'the consent page').find((f) => f.action.endsWith('/consent'))!;
    const done = await browser.follow(new URL(allow.action, signedIn.url), (u) => u.origin === RP, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(allow.fields).toString(),
    });
    assert.ok(done.url.searchParams.get('code'), 'signed in');
    const end = new URL(`${op.issuer}/session/end?${new URLSearchParams({ client_id: 'pages', post_logout_redirect_uri: POST_LOGOUT })}`);
    const confirm = await browser.fetch(end);
    assert.equal(confirm.status, 200);
    assertNotFramable(confirm, 'the logout confirmation');
    const [form] = postForms(await confirm.text(), 'the logout confirmation');
    const res = await submit(browser, end, form!, { logout: 'yes' });
    assert.equal(res.status, 303);
  });

  it('error pages are not framable either', async () => {
    const pages = [
      authUrl({ client_id: 'no-such-client' }),
      authUrl({ redirect_uri: 'https://evil.example.test/cb' }),
      new URL(`${op.issuer}/interaction/no-such-interaction`),
      new URL(`${op.issuer}/upstream/corp/callback?state=forged&code=x`),
      new URL(`${op.issuer}/session/end?client_id=pages&post_logout_redirect_uri=https://evil.example.test/`),
      new URL(`${op.issuer}/no/such/page`),
    ];
    for (const url of pages) {
      const res = await new HtmlBrowser().fetch(url);
      assert.ok(res.status >= 400, `${url.pathname}: an error (${res.status})`);
      assertNotFramable(res, url.href);
      await res.arrayBuffer();
    }
  });
});
