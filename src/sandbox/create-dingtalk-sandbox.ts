import express, { type ErrorRequestHandler, type Express } from 'express';
import { listen } from '../server/listen.js';
import { apiRoutes } from './api-routes.js';
import { dingtalkAppRoutes } from './dingtalk-app.js';
import { sendApiError, sendApiNotFound, sendJson, sendOapiError } from './error-bodies.js';
import { createFaultRegistry, type SandboxFault } from './faults.js';
import { loginRoutes } from './login-routes.js';
import { oapiAuthRoutes } from './oapi-auth.js';
import { oapiDepartmentRoutes } from './oapi-department-routes.js';
import { oapiUserRoutes } from './oapi-user-routes.js';
import { CODE_TTL_SECONDS, createSandboxContext, type SandboxApp, type SandboxContext } from './sandbox-context.js';
import { sampleOrganisation, SANDBOX_APP_KEY, SANDBOX_APP_SECRET, type SandboxOrg } from './sample-organisation.js';
import { snsRoutes } from './sns-routes.js';

export interface SandboxOptions {
  /** Default: one app, SANDBOX_APP_KEY / SANDBOX_APP_SECRET in the org's corp, with SANDBOX_DEMO_REDIRECT_URIS. */
  apps?: SandboxApp[];
  /** Default: a copy of sampleOrganisation. The sandbox works on its own copy either way. */
  org?: SandboxOrg;
  /** Milliseconds; drives code and token expiry. */
  clock?: () => number;
}

export interface SandboxListener {
  url: string;
  close(): Promise<void>;
}

export interface DingTalkSandbox {
  /** Serves login.dingtalk.com, api.dingtalk.com and oapi.dingtalk.com paths together; mount or listen. */
  app: Express;
  listen(port?: number, host?: string): Promise<SandboxListener>;
  /** The person leaves: getbyunionid and v2/user/get answer 60121; their DingTalk login keeps working. */
  removeMember(userid: string): void;
  /** Registers another exact redirect_uri on an app (e.g. a bridge that only knows its port after listening). */
  addRedirectUri(appKey: string, redirectUri: string): void;
  setFault(fault: SandboxFault): void;
  clearFaults(): void;
  /** Requests per path (query excluded), e.g. stats.calls['/v1.0/oauth2/accessToken']. */
  readonly stats: { readonly calls: Record<string, number> };
  resetStats(): void;
  /**
   * A login code as if `userid` had signed in on the login page. The token exchange reports a corpId
   * (opts.corpId, else the person's organisation) unless `withCorpId: false` (scope without `corpid`).
   */
  issueAuthCode(appKey: string, userid: string, opts?: { corpId?: string; withCorpId?: boolean }): string;
  /** A requestAuthCode (免登) code for topapi/v2/user/getuserinfo. */
  issueInAppCode(appKey: string, userid: string): string;
  /** The sandbox's own copy of the organisation (removeMember changes it). */
  org: SandboxOrg;
}

/** The bridge demo's DingTalk callback (`<issuer>/upstream/<id>/callback`, docs/upstreams.md) on the default port. */
export const SANDBOX_DEMO_REDIRECT_URIS = [
  'http://localhost:8080/upstream/dingtalk/callback',
  'http://127.0.0.1:8080/upstream/dingtalk/callback',
];

function assertUrl(value: string): void {
  if (!URL.canParse(value)) throw new Error(`sandbox: redirect URI is not an absolute URL: ${value}`);
}

function buildApp(ctx: SandboxContext, faults: ReturnType<typeof createFaultRegistry>, calls: Record<string, number>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, _res, next) => {
    calls[req.path] = (calls[req.path] ?? 0) + 1;
    next();
  });
  app.use(faults.middleware);
  app.use(
    loginRoutes(ctx),
    dingtalkAppRoutes(ctx),
    apiRoutes(ctx),
    oapiAuthRoutes(ctx),
    oapiUserRoutes(ctx),
    oapiDepartmentRoutes(ctx),
    snsRoutes(ctx),
  );
  app.use((_req, res) => sendApiNotFound(res));
  app.use(errorHandler);
  return app;
}

// Bad input (oversized or malformed bodies) gets the host's error shape, never a stack trace.
const errorHandler: ErrorRequestHandler = (err: { status?: unknown }, req, res, next) => {
  if (res.headersSent) return next(err);
  const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
  if (req.path.startsWith('/v1.0/')) {
    return sendApiError(
      res,
      status,
      status === 500 ? 'InternalError' : 'InvalidParameter',
      status === 500 ? 'internal error' : 'invalid request',
    );
  }
  if (status === 500) return sendJson(res, 500, { errcode: -1, errmsg: '系统繁忙' });
  sendOapiError(res, 400002);
};

export function createDingTalkSandbox(options: SandboxOptions = {}): DingTalkSandbox {
  const org = structuredClone(options.org ?? sampleOrganisation);
  const apps = options.apps ?? [
    { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: org.corpId, redirectUris: SANDBOX_DEMO_REDIRECT_URIS },
  ];
  apps.forEach((a) => a.redirectUris.forEach(assertUrl));
  const ctx = createSandboxContext(org, apps, options.clock ?? Date.now);
  const faults = createFaultRegistry();
  const calls: Record<string, number> = {};
  const sandbox: DingTalkSandbox = {
    app: buildApp(ctx, faults, calls),
    org,
    stats: { calls },
    resetStats() {
      for (const path of Object.keys(calls)) delete calls[path];
    },
    listen: (port = 0, host = '127.0.0.1') => listenSandbox(sandbox.app, port, host, () => faults.cancelDelays()),
    removeMember(userid) {
      const person = ctx.directory.personByUserid(userid);
      if (!person) throw new Error(`sandbox: unknown userid ${userid}`);
      person.member = false;
    },
    addRedirectUri(appKey, redirectUri) {
      assertUrl(redirectUri);
      const app = knownApp(ctx, appKey);
      if (!app.redirectUris.includes(redirectUri)) app.redirectUris.push(redirectUri);
    },
    setFault: (fault) => faults.set(fault),
    clearFaults: () => faults.clear(),
    issueAuthCode(appKey, userid, opts = {}) {
      knownApp(ctx, appKey);
      const person = knownPerson(ctx, userid);
      const corpId = opts.withCorpId === false ? {} : { corpId: opts.corpId ?? ctx.directory.corpOf(person) };
      return ctx.authCodes.issue({ appKey, userid, ...corpId }, CODE_TTL_SECONDS);
    },
    issueInAppCode(appKey, userid) {
      knownApp(ctx, appKey);
      knownPerson(ctx, userid);
      return ctx.inAppCodes.issue({ appKey, userid }, CODE_TTL_SECONDS);
    },
  };
  return sandbox;
}

function knownApp(ctx: SandboxContext, appKey: string): SandboxApp {
  const app = ctx.apps.get(appKey);
  if (!app) throw new Error(`sandbox: unknown appKey ${appKey}`);
  return app;
}

function knownPerson(ctx: SandboxContext, userid: string) {
  const person = ctx.directory.personByUserid(userid);
  if (!person) throw new Error(`sandbox: unknown userid ${userid}`);
  return person;
}

async function listenSandbox(app: Express, port: number, host: string, onClose: () => void): Promise<SandboxListener> {
  const listening = await listen(app, { host, port });
  return {
    url: listening.url,
    close: () => {
      onClose();
      return listening.close({ graceMs: 0 });
    },
  };
}
