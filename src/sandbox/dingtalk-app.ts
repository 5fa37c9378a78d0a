// The DingTalk app, simulated for the demo and the tests: a page where a person "signs in to the
// DingTalk app" as a sample employee (a cookie), and a stand-in for the DingTalk JSAPI whose
// `dd.requestAuthCode({ corpId, clientId })` answers a code for that employee, which the sandbox's
// topapi/v2/user/getuserinfo then accepts (docs/reference/dingtalk.md, "In-app login code"). The
// bridge loads the stand-in instead of the bundled dingtalk-jsapi only when its config names it
// (`inAppLogin.standIn`, refused in production).
import express, { Router, type Request, type Response } from 'express';
import { PAGE_HEADERS, renderAppPage } from './login-page.js';
import { CODE_TTL_SECONDS, type SandboxContext } from './sandbox-context.js';

/** Who is signed in to the simulated DingTalk app: a userid, or `deny` (refuses every code) or `hang` (never answers). */
export const SANDBOX_APP_COOKIE = 'sandbox_dingtalk_user';
const VALUE = /^[A-Za-z0-9_-]{1,64}$/;

function appUser(req: Request): string | undefined {
  const raw = new RegExp(`(?:^|;\\s*)${SANDBOX_APP_COOKIE}=([^;]*)`).exec(req.headers.cookie ?? '')?.[1];
  return raw !== undefined && VALUE.test(raw) ? raw : undefined;
}

/** Only a path of this site: never an open redirect. */
function localPath(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.includes('\\') ? value : fallback;
}

interface StandInState {
  mode: 'ok' | 'deny' | 'hang' | 'nobody';
  corpId?: string;
  /** One fresh code per app of the person's organisation, by appKey (clientId). */
  codes: Record<string, string>;
}

function standInState(ctx: SandboxContext, who: string | undefined): StandInState {
  if (who === 'deny' || who === 'hang') return { mode: who, codes: {} };
  const person = who === undefined ? undefined : ctx.directory.personByUserid(who);
  if (!person) return { mode: 'nobody', codes: {} };
  const corpId = ctx.directory.corpOf(person);
  const codes: Record<string, string> = {};
  for (const app of ctx.apps.values()) {
    if (app.corpId === corpId) codes[app.appKey] = ctx.inAppCodes.issue({ appKey: app.appKey, userid: person.userid }, CODE_TTL_SECONDS);
  }
  return { mode: 'ok', corpId, codes };
}

/** The stand-in `dd`: `requestAuthCode` resolves `{ code }` or rejects with the JSAPI's `{ errorCode, errorMessage }` shape. */
function standInScript(state: StandInState): string {
  // JSON inside a script: `<` escaped so no value can close the tag.
  const json = JSON.stringify(state).replace(/</g, '\\u003c');
  return `// Stand-in for the DingTalk JSAPI (oidc-bridge sandbox): never served by a real deployment.
(function () {
  'use strict';
  var state = ${json};
  window.dd = {
    env: { platform: 'android', appType: 'WEB' },
    requestAuthCode: function (params) {
      return new Promise(function (resolve, reject) {
        if (state.mode === 'hang') return;
        if (state.mode === 'deny') return reject({ errorCode: '-1', errorMessage: '用户取消授权 (the person refused)' });
        if (state.mode === 'nobody') return reject({ errorCode: '3', errorMessage: '未登录钉钉 (nobody is signed in to the DingTalk app)' });
        var code = params && state.codes[params.clientId];
        if (!code || params.corpId !== state.corpId) return reject({ errorCode: '3', errorMessage: 'corpId 或 clientId 无效 (wrong corpId or clientId)' });
        resolve({ code: code });
      });
    }
  };
})();
`;
}

export function dingtalkAppRoutes(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/jsapi/stand-in.js', (req, res: Response) => {
    res
      .status(200)
      .set({ 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
      .send(standInScript(standInState(ctx, appUser(req))));
  });
  router.get('/dingtalk-app', (req, res) => {
    const next = localPath(req.query.next, '/');
    const people = ctx.directory.org.people.map((p) => ({ userid: p.userid, name: p.name }));
    res
      .status(200)
      .set(PAGE_HEADERS)
      .type('html')
      .send(renderAppPage({ next, people, current: appUser(req) }));
  });
  router.post('/dingtalk-app', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = localPath(body.next, '/');
    const who = typeof body.userid === 'string' && VALUE.test(body.userid) ? body.userid : undefined;
    if (who === undefined) res.clearCookie(SANDBOX_APP_COOKIE, { path: '/' });
    else res.cookie(SANDBOX_APP_COOKIE, who, { path: '/', sameSite: 'lax', httpOnly: true });
    res.redirect(303, next);
  });
  return router;
}
