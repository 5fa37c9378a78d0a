/**
 * The sign-in inside the DingTalk app (免登) in a real Chromium with a DingTalk user agent: the
 * bridge serves the in-app page, the sandbox's stand-in JSAPI answers `requestAuthCode` for the
 * employee the test "signed in to the DingTalk app" (a cookie), and the page posts the code back.
 * A member gets the same `sub` and username as through the redirect; a person who left and an
 * external contact are refused; a JSAPI that refuses, is absent, or is the real dingtalk-jsapi
 * outside DingTalk falls back to the redirect; a code replayed into another browser's interaction
 * is refused; and no page of it violates its CSP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { SANDBOX_APP_COOKIE, sampleUserids } from '../../src/sandbox/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { KUBESPHERE_REDIRECT, type LoginResult } from '../helpers/dingtalk-login.js';
import type { Browser as HttpBrowser } from '../helpers/http-browser.js';
import { authorizationRequest } from '../helpers/oidc-rp.js';
import { message } from '../helpers/pages.js';

const DINGTALK_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36 AliApp(DingTalk/7.6.0) com.alibaba.android.rimet/7.6.0 Language/zh-CN';

let browser: Browser;
/** In-app sign-in with the sandbox's stand-in JSAPI. */
let fb: DingTalkBridge;
/** The defaults: in-app sign-in on, with the bundled dingtalk-jsapi. */
let plain: DingTalkBridge;
const violations: string[] = [];

async function dingtalkContext(who: string | undefined): Promise<BrowserContext> {
  const context = await browser.newContext({ userAgent: DINGTALK_UA });
  if (who !== undefined) await context.addCookies([{ name: SANDBOX_APP_COOKIE, value: who, domain: '127.0.0.1', path: '/' }]);
  // Init scripts run outside the page's CSP: they report what the CSP blocks.
  await context.addInitScript({
    content:
      "document.addEventListener('securitypolicyviolation', (e) => console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  });
  return context;
}

interface Attempt {
  page: Page;
  /** The client's redirect URI with the code, when the login got there. */
  redirect?: URL;
  checks: LoginResult['checks'];
}

/** From the client's authorization request to the client, a bridge page, or the sandbox's sign-in page. */
async function attempt(bridge: DingTalkBridge, context: BrowserContext, stopAt?: (url: URL) => boolean): Promise<Attempt> {
  const request = await authorizationRequest(await bridge.rp('kubesphere'), {
    redirectUri: KUBESPHERE_REDIRECT,
    scope: 'openid profile email',
    pkce: false,
  });
  let redirect: URL | undefined;
  await context.route(`${KUBESPHERE_REDIRECT}**`, (route: Route) => {
    redirect = new URL(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' });
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(`${page.url()}: ${message.text()}`);
  });
  await page.goto(request.url.href);
  const ended = (url: URL) =>
    url.href.startsWith(KUBESPHERE_REDIRECT) ||
    url.pathname.endsWith('/in-app') ||
    url.pathname === '/oauth2/auth' ||
    (stopAt?.(url) ?? false);
  await page.waitForURL(ended, { timeout: 60_000 });
  return { page, ...(redirect ? { redirect } : {}), checks: { state: request.state, ...(request.nonce ? { nonce: request.nonce } : {}) } };
}

async function claimsOf(bridge: DingTalkBridge, done: Attempt) {
  assert.ok(done.redirect, `the login ended on ${done.page.url()}`);
  const login: LoginResult = {
    clientId: 'kubesphere',
    browser: undefined as unknown as HttpBrowser,
    redirectUri: KUBESPHERE_REDIRECT,
    upstreamLeg: false,
    redirect: done.redirect,
    checks: done.checks,
  };
  return (await bridge.tokens(login)).claims()!;
}

before(async () => {
  // The browser before the bridges: when it cannot start, no bridge is left running to keep the file from ending.
  browser = await launchBrowser();
  [fb, plain] = await Promise.all([
    startBridge({
      upstream: 'dingtalk',
      store: 'memory',
      // Long enough that the replay test's second browser stays on its page.
      dingtalk: (sandboxUrl) => ({ inAppLogin: { timeoutMs: 30_000, standIn: { jsapiUrl: `${sandboxUrl}/jsapi/stand-in.js` } } }),
    }),
    startBridge({ upstream: 'dingtalk', store: 'memory' }),
  ]);
});
after(async () => {
  await browser?.close();
  await Promise.all([fb?.close(), plain?.close()]);
});

describe('DingTalk in-app sign-in (免登) in Chromium', () => {
  it('signs a member in without a sign-in page, with the same sub and username as the redirect gives them', async () => {
    fb.sandbox.resetStats();
    const context = await dingtalkContext(sampleUserids.liNa);
    try {
      const inApp = await claimsOf(fb, await attempt(fb, context));
      assert.equal(fb.sandbox.stats.calls['/oauth2/auth'], undefined, 'no redirect to the DingTalk sign-in page');
      assert.equal(fb.sandbox.stats.calls['/topapi/v2/user/getuserinfo'], 1);
      // The same person through the redirect, on a bridge of its own (its own store): same sub, same name.
      const viaRedirect = (await plain.tokens(await plain.loginAs(sampleUserids.liNa, 'kubesphere'))).claims()!;
      assert.equal(inApp.sub, viaRedirect.sub);
      assert.equal(inApp.preferred_username, viaRedirect.preferred_username);
      assert.equal(inApp.email, viaRedirect.email);
      assert.equal(inApp.name, viaRedirect.name);
    } finally {
      await context.close();
    }
  });

  for (const [who, userid] of [
    ['a person who left', sampleUserids.departed],
    ['an external contact', sampleUserids.externalContact],
  ] as const) {
    it(`refuses ${who} with the not-a-member page`, async () => {
      const context = await dingtalkContext(userid);
      try {
        const done = await attempt(fb, context);
        assert.equal(done.redirect, undefined);
        assert.match(new URL(done.page.url()).pathname, /\/in-app$/);
        assert.equal(await done.page.locator('h1').innerText(), message('en', 'errors.notAllowed.title'));
        assert.match(await done.page.content(), /member of this organisation/);
      } finally {
        await context.close();
      }
    });
  }

  it('falls back to the DingTalk sign-in page when the JSAPI refuses the code', async () => {
    const context = await dingtalkContext('deny');
    try {
      const done = await attempt(fb, context);
      assert.equal(new URL(done.page.url()).pathname, '/oauth2/auth');
      const line = fb.logs.find((l) => l.msg === 'in-app sign-in not used; redirecting to the upstream' && l.reason === 'refused');
      assert.ok(line, 'the fallback is logged with its reason');
    } finally {
      await context.close();
    }
  });

  it('falls back to the DingTalk sign-in page when the JSAPI is missing', async () => {
    const context = await dingtalkContext(sampleUserids.manager);
    await context.route('**/jsapi/stand-in.js', (route) => route.abort());
    try {
      const done = await attempt(fb, context);
      assert.equal(new URL(done.page.url()).pathname, '/oauth2/auth');
      assert.ok(fb.logs.some((l) => l.msg === 'in-app sign-in not used; redirecting to the upstream' && l.reason === 'no_jsapi'));
    } finally {
      await context.close();
    }
  });

  it('serves the bundled dingtalk-jsapi, which outside the DingTalk app fails and falls back to the sign-in page', async () => {
    const context = await dingtalkContext(undefined);
    const scripts: { url: string; status: number; cache: string | undefined }[] = [];
    context.on('response', (r) => {
      if (r.url().includes('/assets/dingtalk-')) scripts.push({ url: r.url(), status: r.status(), cache: r.headers()['cache-control'] });
    });
    try {
      const done = await attempt(plain, context);
      assert.equal(new URL(done.page.url()).pathname, '/oauth2/auth');
      assert.deepEqual(scripts.map((s) => [new URL(s.url).pathname, s.status, s.cache]).sort(), [
        ['/assets/dingtalk-in-app.js', 200, 'public, max-age=31536000, immutable'],
        ['/assets/dingtalk-jsapi.js', 200, 'public, max-age=31536000, immutable'],
      ]);
      // The real JSAPI rejects outside DingTalk, or (waiting for a native bridge that never comes) runs into the page's timeout.
      assert.ok(
        plain.logs.some(
          (l) => l.msg === 'in-app sign-in not used; redirecting to the upstream' && (l.reason === 'refused' || l.reason === 'timeout'),
        ),
      );
    } finally {
      await context.close();
    }
  });

  it('refuses a code replayed into another browser’s interaction, and the code still signs in its own browser', async () => {
    const victim = await dingtalkContext('hang');
    const holder = await dingtalkContext(sampleUserids.manager);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let captured: { url: string; form: Record<string, string> } | undefined;
    let capturedSignal!: () => void;
    const capturedOnce = new Promise<void>((resolve) => (capturedSignal = resolve));
    await holder.route('**/in-app', async (route) => {
      captured = { url: route.request().url(), form: Object.fromEntries(new URLSearchParams(route.request().postData() ?? '')) };
      capturedSignal();
      await released;
      await route.continue();
    });
    try {
      // The victim's browser sits on its own in-app page (its JSAPI never answers).
      const victimRequest = await authorizationRequest(await fb.rp('kubesphere'), {
        redirectUri: KUBESPHERE_REDIRECT,
        scope: 'openid',
        pkce: false,
      });
      const victimPage = await victim.newPage();
      await victimPage.goto(victimRequest.url.href);
      const victimAction = new URL((await victimPage.getAttribute('#in-app-login', 'action'))!, fb.url).href;

      const holding = attempt(fb, holder);
      await capturedOnce;
      assert.ok(captured?.form.code && captured.form.csrf, 'the page posts a code and its CSRF token');
      assert.notEqual(victimAction, captured.url);

      // Into the victim's interaction, and into the holder's own URL, from the victim's browser: both refused.
      for (const target of [victimAction, captured.url]) {
        const reply: { status(): number } = await victim.request.post(target, { form: captured.form, maxRedirects: 0 });
        assert.equal(reply.status(), 403, target);
      }
      assert.doesNotMatch(new URL(victimPage.url()).pathname, /\/in-app$/, 'the victim is still on its page');

      release();
      const done = await holding;
      assert.equal((await claimsOf(fb, done)).sub !== undefined, true, 'the code was not spent by the replays');
    } finally {
      release();
      await Promise.all([victim.close(), holder.close()]);
    }
  });

  it('raised no CSP violation on any page', () => {
    assert.deepEqual(violations, []);
  });
});
