/**
 * The interaction pages in a real Chromium: the flows work without JavaScript under the page CSP
 * (form posts whose redirect chain ends at the client, the cross-site return from the upstream
 * carrying the SameSite=Lax binding cookie), with no CSP violation on any page.
 * With SCREENSHOT_DIR set, every page is also saved there in both languages for a visual check.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { clientFormActions, createPages, pageHeaders } from '../../src/pages/index.js';
import { identityOf, startHarness, UPSTREAM_AUTHORIZE, type Harness } from './harness.js';

const SHOTS = process.env.SCREENSHOT_DIR;
let h: Harness;
let rp: Server;
let rpOrigin: string;
let browser: Browser;
const violations: string[] = [];

before(async () => {
  rp = createServer((req, res) => res.end(`relying party got ${req.url}`));
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
  h = await startHarness({
    rp: rpOrigin,
    config: {
      ui: {
        defaultLocale: 'zh-CN',
        title: { 'zh-CN': '统一登录', en: 'Single sign-on' },
        notice: { 'zh-CN': '请使用公司账号登录。', en: 'Use your company account.' },
      },
    },
    routes(app, config) {
      const pages = createPages(config);
      const localeOf = (req: { query: Record<string, unknown> }) => (typeof req.query.locale === 'string' ? req.query.locale : '');
      // The logout forms end in any client's post-logout redirect.
      const logoutHeaders = pageHeaders(
        config.clients.flatMap((c) => clientFormActions({ post_logout_redirect_uris: c.post_logout_redirect_uris })),
      );
      const form =
        '<form id="op.logoutForm" method="post" action="/sso/__test/logout-confirm"><input type="hidden" name="xsrf" value="x"/></form>';
      app.get('/sso/__test/logout', (req, res) => {
        res
          .set(logoutHeaders)
          .type('html')
          .send(pages.logout({ formHtml: form, clientName: 'Grafana', locale: localeOf(req) }));
      });
      app.get('/sso/__test/logout-success', (req, res) => {
        res
          .set(logoutHeaders)
          .type('html')
          .send(pages.logoutSuccess({ clientName: 'Grafana', locale: localeOf(req) }));
      });
    },
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking'] });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await h?.close();
  await new Promise<void>((resolve) => rp.close(() => resolve()));
});

/** A browser context whose upstream answers with `upstream.code` (see the harness's fake strategy). */
async function newContext(locale: 'zh-CN' | 'en'): Promise<BrowserContext & { upstream: { code: string } }> {
  const context = Object.assign(await browser.newContext({ locale, javaScriptEnabled: false, viewport: { width: 1100, height: 820 } }), {
    upstream: { code: 'alice' },
  });
  // The upstream sends the browser straight back to the callback: a cross-site top-level GET.
  await context.route(
    (url) => url.href.startsWith(UPSTREAM_AUTHORIZE),
    (route) => {
      const state = new URL(route.request().url()).searchParams.get('state');
      return route.fulfill({
        status: 302,
        headers: { location: `${h.issuer}/upstream/dingtalk/callback?state=${state}&code=${context.upstream.code}` },
      });
    },
  );
  return context;
}

async function open(context: BrowserContext, uid: string | undefined, path: string): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(`${path}: ${message.text()}`);
  });
  if (uid) await page.goto(`${h.issuer}/__test/bind/${uid}`);
  await page.goto(`${h.issuer}${path}`);
  return page;
}

/** Starts the DingTalk leg from the chooser, as a person would (Chromium lets `route` catch the redirect only then). */
async function signInWithDingTalk(context: BrowserContext, uid: string): Promise<Page> {
  const page = await open(context, uid, `/interaction/${uid}`);
  await page.locator('.option').first().click();
  await page.waitForURL((url) => url.pathname.endsWith('/upstream/dingtalk/callback'));
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe('pages in Chromium (no JavaScript)', () => {
  for (const locale of ['zh-CN', 'en'] as const) {
    it(`signs in through the chooser and lands at the client (${locale})`, async () => {
      const context = await newContext(locale);
      const uid = `uid-${randomUUID()}`;
      h.interactions.add({ uid, clientName: 'KubeSphere 控制台' });
      const page = await open(context, uid, `/interaction/${uid}`);
      assert.equal(await page.getAttribute('html', 'lang'), locale);
      assert.equal(await page.locator('h1').count(), 1);
      assert.equal(await page.locator('.option').count(), 2);
      await shot(page, `chooser-${locale}`);
      await page.keyboard.press('Tab');
      assert.match(await page.evaluate<string>("document.activeElement ? document.activeElement.className : ''"), /option/);
      await page.locator('.option').first().click();
      await page.waitForURL(`${rpOrigin}/**`);
      assert.equal(new URL(page.url()).searchParams.get('uid'), uid);
      assert.ok(h.interactions.calls.some((c) => c.uid === uid && c.fn === 'finishLogin'));
      await context.close();
    });

    it(`allows on the consent page and the redirect chain reaches the client (${locale})`, async () => {
      const context = await newContext(locale);
      const uid = `uid-${randomUUID()}`;
      h.accounts.put('sub-wang', { ...identityOf('dingtalk', 'wangxiaoming'), name: '王小明' });
      h.interactions.add({
        uid,
        prompt: 'consent',
        reasons: ['op_scopes_missing'],
        session: { accountId: 'sub-wang' },
        clientName: 'Grafana',
        missingScopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
        missingClaims: [],
      });
      const page = await open(context, uid, `/interaction/${uid}`);
      await shot(page, `consent-${locale}`);
      await page.locator('button.button--primary').click();
      await page.waitForURL(`${rpOrigin}/**`);
      assert.ok(h.interactions.calls.some((c) => c.uid === uid && c.fn === 'finishConsent'));
      await context.close();
    });

    it(`shows the error pages (${locale})`, async () => {
      const context = await newContext(locale);
      const notAllowed = `uid-${randomUUID()}`;
      h.interactions.add({ uid: notAllowed, clientName: 'KubeSphere' });
      context.upstream.code = 'notmember';
      const page = await signInWithDingTalk(context, notAllowed);
      assert.equal(await page.locator('h1').count(), 1);
      assert.match(await page.locator('h1').innerText(), /无法在此登录|can’t sign in here/);
      await shot(page, `not-allowed-${locale}`);
      // "Back to the application" posts the abort form; the redirect chain ends at the client.
      await page.locator('form button').click();
      await page.waitForURL(`${rpOrigin}/**`);
      assert.ok(h.interactions.calls.some((c) => c.uid === notAllowed && c.fn === 'finishError'));

      for (const [code, name] of [
        ['perm', 'ask-your-admin'],
        ['down', 'upstream-failed'],
      ] as const) {
        const uid = `uid-${randomUUID()}`;
        h.interactions.add({ uid, clientName: 'KubeSphere' });
        context.upstream.code = code;
        const failed = await signInWithDingTalk(context, uid);
        assert.equal(await failed.locator('h1').count(), 1);
        await shot(failed, `${name}-${locale}`);
      }
      await shot(await open(context, undefined, '/interaction/gone'), `expired-${locale}`);
      await shot(
        await open(context, undefined, '/upstream/dingtalk/callback?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
        `invalid-link-${locale}`,
      );
      await shot(await open(context, undefined, `/__test/logout?locale=${locale}`), `logout-${locale}`);
      await shot(await open(context, undefined, `/__test/logout-success?locale=${locale}`), `logout-success-${locale}`);
      await context.close();
    });
  }

  it('fits a phone screen', async () => {
    const context = await browser.newContext({
      locale: 'zh-CN',
      javaScriptEnabled: false,
      viewport: { width: 375, height: 740 },
      isMobile: true,
    });
    const uid = `uid-${randomUUID()}`;
    h.interactions.add({ uid, clientName: 'KubeSphere' });
    const page = await open(context, uid, `/interaction/${uid}`);
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await shot(page, 'chooser-mobile');
    await context.close();
  });

  it('raised no Content-Security-Policy violation on any page', () => {
    assert.deepEqual(violations, []);
  });
});
