import express, { Router, type Request, type Response } from 'express';
import { PAGE_HEADERS, renderErrorPage, renderLoginPage, type LoginChoice } from './login-page.js';
import { queryParam } from './request-body.js';
import { CODE_TTL_SECONDS, type SandboxApp, type SandboxContext } from './sandbox-context.js';
import type { SandboxPerson } from './sample-organisation.js';

type Param = (name: string) => string | undefined;

interface LoginRequest {
  app: SandboxApp;
  redirectUri: string;
  state?: string;
  /** Scope included `corpid`: the token exchange reports the chosen person's corpId. */
  withCorpId: boolean;
  /** Only people of this organisation may be chosen (corpId / exclusiveCorpId parameters). */
  corpFilter?: string;
  hidden: Record<string, string>;
}

/** One login entry point: the new 统一登录 (`authCode`) or a legacy SNS page (`code`). */
interface LoginFlavour {
  path: string;
  /** Relative form action: the last path segment. */
  action: string;
  codeParam: 'authCode' | 'code';
  parse(ctx: SandboxContext, param: Param): LoginRequest | string;
  issue(ctx: SandboxContext, login: LoginRequest, person: SandboxPerson): string;
}

const SCOPE_TOKEN = /^[A-Za-z][A-Za-z0-9._:-]*$/;

function hiddenFields(param: Param, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = param(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function clientAndRedirect(ctx: SandboxContext, clientId: string | undefined, redirectUri: string | undefined, idName: string) {
  const app = clientId === undefined ? undefined : ctx.apps.get(clientId);
  if (!app) return `${idName} 无效 (unknown ${idName})`;
  if (redirectUri === undefined || !app.redirectUris.includes(redirectUri)) {
    return 'redirect_uri 与应用登记的回调地址不一致 (redirect_uri is not registered for this app)';
  }
  return { app, redirectUri };
}

// Parameters: docs/reference/dingtalk.md, "Authorization request" (login.dingtalk.com/oauth2/auth).
const oauth2Flavour: LoginFlavour = {
  path: '/oauth2/auth',
  action: 'auth',
  codeParam: 'authCode',
  parse(ctx, param) {
    const base = clientAndRedirect(ctx, param('client_id'), param('redirect_uri'), 'client_id');
    if (typeof base === 'string') return base;
    if (param('response_type') !== 'code') return 'response_type 必须为 code (response_type must be code)';
    const scopes = (param('scope') ?? '').split(/\s+/).filter(Boolean);
    if (!scopes.includes('openid') || !scopes.every((s) => SCOPE_TOKEN.test(s))) {
      return 'scope 必须包含 openid (scope must be "openid" or "openid corpid", plus optional extra scopes)';
    }
    if (param('prompt') !== 'consent') return 'prompt 必须为 consent (prompt must be consent)';
    const exclusive = param('exclusiveLogin') === 'true';
    if (exclusive && !param('exclusiveCorpId')) return 'exclusiveLogin=true 需要 exclusiveCorpId (exclusiveCorpId is required)';
    const withCorpId = scopes.includes('corpid');
    const corpFilter = exclusive ? param('exclusiveCorpId') : withCorpId ? param('corpId') : undefined;
    const names = [
      'client_id',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
      'prompt',
      'org_type',
      'corpId',
      'exclusiveLogin',
      'exclusiveCorpId',
    ];
    return { ...base, state: param('state'), withCorpId, corpFilter, hidden: hiddenFields(param, names) };
  },
  issue: (ctx, login, person) =>
    ctx.authCodes.issue(
      { appKey: login.app.appKey, userid: person.userid, ...(login.withCorpId ? { corpId: ctx.directory.corpOf(person) } : {}) },
      CODE_TTL_SECONDS,
    ),
};

// Legacy QR / account login: `appid`, scope snsapi_login|snsapi_auth, back with `code`
// (docs/reference/dingtalk.md, "Legacy SNS login").
function snsFlavour(path: string, action: string): LoginFlavour {
  return {
    path,
    action,
    codeParam: 'code',
    parse(ctx, param) {
      const base = clientAndRedirect(ctx, param('appid'), param('redirect_uri'), 'appid');
      if (typeof base === 'string') return base;
      if (param('response_type') !== 'code') return 'response_type 必须为 code (response_type must be code)';
      const scope = param('scope');
      if (scope !== 'snsapi_login' && scope !== 'snsapi_auth') return 'scope 必须为 snsapi_login 或 snsapi_auth';
      const names = ['appid', 'redirect_uri', 'response_type', 'scope', 'state'];
      return { ...base, state: param('state'), withCorpId: false, hidden: hiddenFields(param, names) };
    },
    issue: (ctx, login, person) => ctx.snsCodes.issue({ appKey: login.app.appKey, userid: person.userid }, CODE_TTL_SECONDS),
  };
}

function whereLabel(ctx: SandboxContext, person: SandboxPerson): string {
  const { directory } = ctx;
  if ((person.contactType ?? 0) === 1) return '外部联系人 · external contact';
  if (directory.corpOf(person) !== directory.org.corpId) return '其他组织 · another organisation';
  const paths = person.deptIds.map((id) => directory.pathOf(id) || directory.org.name);
  const where = paths.join('、') || directory.org.name;
  return person.member === false ? `${where}，已离职 · left` : where;
}

function choicesFor(ctx: SandboxContext, login: LoginRequest): { person: SandboxPerson; choice: LoginChoice }[] {
  return ctx.directory.org.people
    .filter((p) => login.corpFilter === undefined || ctx.directory.corpOf(p) === login.corpFilter)
    .map((person) => ({ person, choice: { userid: person.userid, name: person.name, where: whereLabel(ctx, person) } }));
}

function sendPage(res: Response, status: number, html: string): void {
  res.status(status).set(PAGE_HEADERS).type('html').send(html);
}

function redirectBack(res: Response, login: LoginRequest, params: Record<string, string>): void {
  const url = new URL(login.redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  if (login.state !== undefined) url.searchParams.set('state', login.state);
  res.redirect(302, url.href);
}

function showLogin(ctx: SandboxContext, flavour: LoginFlavour, req: Request, res: Response): void {
  const login = flavour.parse(ctx, (name) => queryParam(req, name));
  if (typeof login === 'string') return sendPage(res, 400, renderErrorPage(login));
  const choices = choicesFor(ctx, login).map((c) => c.choice);
  sendPage(res, 200, renderLoginPage({ appKey: login.app.appKey, hidden: login.hidden, action: flavour.action, choices }));
}

function answerLogin(ctx: SandboxContext, flavour: LoginFlavour, req: Request, res: Response): void {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const param: Param = (name) => (typeof body[name] === 'string' ? body[name] : undefined);
  const login = flavour.parse(ctx, param);
  if (typeof login === 'string') return sendPage(res, 400, renderErrorPage(login));
  if (param('deny') !== undefined) return redirectBack(res, login, { error: 'access_denied' });
  const chosen = choicesFor(ctx, login).find((c) => c.person.userid === param('userid'));
  if (!chosen) return sendPage(res, 400, renderErrorPage('未知的用户 (unknown person)'));
  redirectBack(res, login, { [flavour.codeParam]: flavour.issue(ctx, login, chosen.person) });
}

export function loginRoutes(ctx: SandboxContext): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const flavours = [
    oauth2Flavour,
    snsFlavour('/connect/qrconnect', 'qrconnect'),
    snsFlavour('/connect/oauth2/sns_authorize', 'sns_authorize'),
  ];
  for (const flavour of flavours) {
    router.get(flavour.path, (req, res) => showLogin(ctx, flavour, req, res));
    router.post(flavour.path, form, (req, res) => answerLogin(ctx, flavour, req, res));
  }
  return router;
}
