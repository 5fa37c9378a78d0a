/**
 * The interaction facade the interaction pages use instead of oidc-provider: views, the cookie/URL
 * uid check, finishing by uid (upstream callbacks), errors back to the client, client extras.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type Request, type Response } from 'express';
import { InteractionExpiredError, type InteractionApi, type InteractionView } from '../../src/oidc/interactions-api.js';
import { ALICE, startBridge, RP, type Bridge } from '../helpers/bridge.js';
import { Browser } from '../helpers/http-browser.js';

type Handler = (api: InteractionApi, req: Request, res: Response) => Promise<void>;

/** Logs in / consents like the auto-login router, unless a test installs its own handler. */
const autoLogin: Handler = async (api, req, res) => {
  const view = await api.get(req, res, String(req.params.uid));
  const next = view.prompt === 'login' ? await api.finishLogin(view.uid, { accountId: ALICE.sub }) : await api.finishConsent(view.uid);
  res.redirect(303, next);
};

const authUrl = (bridge: Bridge, params: Record<string, string> = {}) =>
  `${bridge.issuer}/auth?${new URLSearchParams({
    client_id: 'web',
    redirect_uri: `${RP}/cb`,
    response_type: 'code',
    scope: 'openid profile',
    state: 'st',
    ...params,
  })}`;
const atInteraction = (u: URL) => u.pathname.startsWith('/interaction/');
const atClient = (u: URL) => u.href.startsWith(`${RP}/cb`) || u.href.startsWith('https://other.example.test/cb');

describe('InteractionApi', () => {
  let bridge: Bridge;
  let api: InteractionApi;
  let handler: Handler = autoLogin;
  before(async () => {
    bridge = await startBridge({
      interactionsRouter: (bundle) => {
        api = bundle.interactions;
        const router = Router();
        router.get('/interaction/:uid', async (req, res) => {
          try {
            await handler(bundle.interactions, req, res);
          } catch (err) {
            res.status(err instanceof InteractionExpiredError ? 400 : 500).json({ name: (err as Error).name });
          }
        });
        return router;
      },
    });
  });
  after(() => bridge.close());
  beforeEach(() => {
    handler = autoLogin;
  });

  it('describes a pending login by uid, with the request parameters', async () => {
    const { url } = await new Browser().follow(authUrl(bridge, { ui_locales: 'en', login_hint: 'alice' }), atInteraction);
    const uid = url.pathname.split('/').pop()!;
    const view = (await api.find(uid))!;
    assert.equal(view.uid, uid);
    assert.equal(view.prompt, 'login');
    assert.deepEqual(view.reasons, ['no_session']);
    assert.equal(view.clientId, 'web');
    assert.equal(view.clientName, 'Web App');
    assert.equal(view.params.ui_locales, 'en');
    assert.equal(view.params.login_hint, 'alice');
    assert.equal(view.session, undefined);
    assert.match(view.returnTo, new RegExp(`/auth/${uid}$`));
    const now = Math.floor(Date.now() / 1000);
    assert.ok(view.expiresAt > now + 500 && view.expiresAt <= now + 600, String(view.expiresAt));
    assert.equal(await api.find('no-such-uid'), undefined);
  });

  it('refuses an interaction cookie that names another uid than the URL', async () => {
    const browser = new Browser();
    const first = await browser.follow(authUrl(bridge), atInteraction);
    const second = await new Browser().follow(authUrl(bridge), atInteraction);
    let seen: unknown;
    handler = async (a, req, res) => {
      seen = await a.get(req, res, String(req.params.uid)).catch((err: unknown) => err);
      res.json({});
    };
    // The first browser's cookie (path /interaction/<first>) sent to the second interaction's URL.
    const cookie = browser.cookieHeader(first.url);
    await fetch(second.url, { headers: { cookie } });
    assert.ok(seen instanceof InteractionExpiredError, String(seen));
    await browser.fetch(first.url);
    assert.equal((seen as unknown as InteractionView).uid, first.url.pathname.split('/').pop());
  });

  it('throws InteractionExpiredError for unknown uids', async () => {
    await assert.rejects(api.finishLogin('nope', { accountId: ALICE.sub }), InteractionExpiredError);
    await assert.rejects(api.finishConsent('nope'), InteractionExpiredError);
    await assert.rejects(api.finishError('nope', 'access_denied'), InteractionExpiredError);
  });

  it('finishes a login by uid alone (as an upstream callback does) and lists what consent is missing', async () => {
    const browser = new Browser();
    const { url } = await browser.follow(
      authUrl(bridge, { client_id: 'other', redirect_uri: 'https://other.example.test/cb' }),
      atInteraction,
    );
    const returnTo = await api.finishLogin(url.pathname.split('/').pop()!, { accountId: ALICE.sub });
    let consent: InteractionView | undefined;
    handler = async (a, req, res) => {
      consent = await a.get(req, res, String(req.params.uid));
      res.redirect(303, await a.finishConsent(consent.uid));
    };
    const done = await browser.follow(returnTo, atClient);
    assert.ok(done.url.searchParams.get('code'));
    assert.equal(consent?.prompt, 'consent');
    assert.deepEqual([...consent.missingScopes].sort(), ['openid', 'profile']);
    assert.equal(consent?.session?.accountId, ALICE.sub);
    assert.equal(typeof consent?.session?.loginTs, 'number');
  });

  it('ends the request with an OAuth error to the client', async () => {
    handler = async (a, req, res) => {
      const view = await a.get(req, res, String(req.params.uid));
      res.redirect(303, await a.finishError(view.uid, 'access_denied', 'the person cancelled'));
    };
    const { url } = await new Browser().follow(authUrl(bridge), atClient);
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(url.searchParams.get('error_description'), 'the person cancelled');
    assert.equal(url.searchParams.get('state'), 'st');
  });

  it('gives a transient session cookie when the login is not remembered', async () => {
    handler = async (a, req, res) => {
      const view = await a.get(req, res, String(req.params.uid));
      res.redirect(
        303,
        view.prompt === 'login'
          ? await a.finishLogin(view.uid, { accountId: ALICE.sub, remember: false })
          : await a.finishConsent(view.uid),
      );
    };
    const browser = new Browser();
    await browser.follow(authUrl(bridge), atClient);
    const session = browser.history.flatMap((h) => h.setCookies).filter((c) => c.startsWith('_session='));
    assert.ok(session.length > 0);
    for (const cookie of session) assert.doesNotMatch(cookie, /expires=/i);
  });

  it('exposes the client extras oidc-provider would drop', () => {
    assert.deepEqual(api.clientExtras('web'), {
      skipConsent: true,
      emitEmail: 'verified',
      resourceServer: false,
      requirePkce: false,
      groups: { prefix: 'ding:', max: 100 },
      clientName: 'Web App',
    });
    assert.equal(api.clientExtras('rs')?.resourceServer, true);
    assert.equal(api.clientExtras('nobody'), undefined);
  });
});
