// oapi.dingtalk.com credentials: legacy gettoken, and the `?access_token=` guard in front of every
// topapi call. See docs/reference/dingtalk.md: "Organisation lookups", "App token",
// "Developer console settings".
import { Router, type RequestHandler, type Response } from 'express';
import { ipNotAllowedMessage, sendJson, sendOapiError } from './error-bodies.js';
import { jsonOrFormBody, queryParam, rawBody, type Fields } from './request-body.js';
import { appTokenFor, callerIp, ipAllowed, TOKEN_TTL_SECONDS, type SandboxApp, type SandboxContext } from './sandbox-context.js';

interface TopapiLocals {
  app: SandboxApp;
  fields: Fields;
}

/** The app and parsed body the topapi guard attached to this response. */
export function topapiCall(res: Response): TopapiLocals {
  return res.locals as TopapiLocals;
}

function ipRejected(res: Response, app: SandboxApp, remoteAddress: string | undefined): boolean {
  const ip = callerIp(remoteAddress);
  if (ipAllowed(app, ip)) return false;
  sendOapiError(res, 60020, ipNotAllowedMessage(ip, app.appKey));
  return true;
}

function topapiGuard(ctx: SandboxContext): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') return sendOapiError(res, 43002);
    const token = queryParam(req, 'access_token');
    const grant = token ? ctx.appTokens.peek(token) : undefined;
    const app = grant && ctx.apps.get(grant.appKey);
    // Missing, unknown and expired tokens all read 40014: clients refetch the token on it.
    if (!app) return sendOapiError(res, 40014);
    if (ipRejected(res, app, req.socket.remoteAddress)) return;
    Object.assign(res.locals, { app, fields: jsonOrFormBody(req) } satisfies TopapiLocals);
    next();
  };
}

export function oapiAuthRoutes(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/gettoken', (req, res) => {
    const appkey = queryParam(req, 'appkey');
    const appsecret = queryParam(req, 'appsecret');
    // Real answers (probed): 40035 "缺少参数 corpid or appkey", 40096 "不合法的appKey或appSecret".
    if (!appkey || !appsecret) return sendOapiError(res, 40035, '缺少参数 corpid or appkey');
    const app = ctx.apps.get(appkey);
    if (!app || app.appSecret !== appsecret) return sendOapiError(res, 40096);
    if (ipRejected(res, app, req.socket.remoteAddress)) return;
    sendJson(res, 200, { errcode: 0, access_token: appTokenFor(ctx, app.appKey), errmsg: 'ok', expires_in: TOKEN_TTL_SECONDS });
  });
  router.use('/topapi', rawBody, topapiGuard(ctx));
  return router;
}
