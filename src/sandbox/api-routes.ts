// api.dingtalk.com v1.0: JSON bodies only, camelCase, errors as non-2xx {code, requestid, message}.
// See docs/reference/dingtalk.md: "User token", "Profile", "Errors of api.dingtalk.com", "App token".
import { Router, type Request, type Response } from 'express';
import { ipNotAllowedMessage, sendApiError, sendApiMissing, sendJson } from './error-bodies.js';
import { jsonOnlyBody, rawBody, stringField, type Fields } from './request-body.js';
import {
  appTokenFor,
  callerIp,
  hasScope,
  ipAllowed,
  REFRESH_TTL_SECONDS,
  TOKEN_TTL_SECONDS,
  type SandboxApp,
  type SandboxContext,
  type UserGrant,
} from './sandbox-context.js';

/** The JSON body's fields, once every required one is present; else the gateway's `Missing…` error is sent. */
function requireFields(req: Request, res: Response, names: string[]): Record<string, string | undefined> | undefined {
  const body: Fields | undefined = jsonOnlyBody(req);
  if (!body) return void sendApiMissing(res, 'body');
  const missing = names.find((name) => stringField(body, name) === undefined);
  if (missing) return void sendApiMissing(res, missing);
  return Object.fromEntries(Object.keys(body).map((k) => [k, stringField(body, k)]));
}

function authenticateApp(ctx: SandboxContext, res: Response, key: string | undefined, secret: string | undefined): SandboxApp | undefined {
  const app = key === undefined ? undefined : ctx.apps.get(key);
  if (app && app.appSecret === secret) return app;
  sendApiError(res, 400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
  return undefined;
}

function checkIp(req: Request, res: Response, app: SandboxApp): boolean {
  const ip = callerIp(req.socket.remoteAddress);
  if (ipAllowed(app, ip)) return true;
  // Real body: aircodelabs/aircode#46 (403 Forbidden.AccessDenied.IpNotInWhiteList).
  sendApiError(res, 403, 'Forbidden.AccessDenied.IpNotInWhiteList', ipNotAllowedMessage(ip, app.appKey));
  return false;
}

function sendUserTokens(res: Response, grant: UserGrant, accessToken: string, refreshToken: string): void {
  const { corpId } = grant;
  sendJson(res, 200, { accessToken, refreshToken, expireIn: TOKEN_TTL_SECONDS, ...(corpId === undefined ? {} : { corpId }) });
}

function exchangeCode(ctx: SandboxContext, res: Response, app: SandboxApp, code: string): void {
  const grant = ctx.authCodes.take(code);
  if (!grant || grant.appKey !== app.appKey) {
    return sendApiError(res, 400, 'invalidParameter.authCode.notFound', '不合法的临时授权码');
  }
  const accessToken = ctx.userTokens.issue(grant, TOKEN_TTL_SECONDS);
  const refreshToken = ctx.refreshTokens.issue({ ...grant, accessToken }, REFRESH_TTL_SECONDS);
  sendUserTokens(res, grant, accessToken, refreshToken);
}

/** The doc: within its lifetime the same accessToken comes back, renewed; after expiry a new one. */
function refresh(ctx: SandboxContext, res: Response, app: SandboxApp, refreshToken: string): void {
  const grant = ctx.refreshTokens.peek(refreshToken);
  if (!grant || grant.appKey !== app.appKey) {
    return sendApiError(res, 400, 'invalidParameter.refreshToken.notFound', '不合法的refreshToken');
  }
  const { accessToken: previous, ...userGrant } = grant;
  if (ctx.userTokens.peek(previous)) {
    ctx.userTokens.extend(previous, TOKEN_TTL_SECONDS);
  } else {
    grant.accessToken = ctx.userTokens.issue(userGrant, TOKEN_TTL_SECONDS);
  }
  sendUserTokens(res, userGrant, grant.accessToken, refreshToken);
}

function userAccessToken(ctx: SandboxContext, req: Request, res: Response): void {
  const fields = requireFields(req, res, ['clientId', 'clientSecret', 'grantType']);
  if (!fields) return;
  const app = authenticateApp(ctx, res, fields.clientId, fields.clientSecret);
  if (!app) return;
  if (fields.grantType === 'authorization_code') {
    return fields.code ? exchangeCode(ctx, res, app, fields.code) : sendApiMissing(res, 'code');
  }
  if (fields.grantType === 'refresh_token') {
    return fields.refreshToken ? refresh(ctx, res, app, fields.refreshToken) : sendApiMissing(res, 'refreshToken');
  }
  sendApiError(res, 400, 'invalidParameter.grantType.invalid', 'grantType 只能是 authorization_code 或 refresh_token');
}

function appAccessToken(ctx: SandboxContext, req: Request, res: Response): void {
  const fields = requireFields(req, res, ['appKey', 'appSecret']);
  const app = fields && authenticateApp(ctx, res, fields.appKey, fields.appSecret);
  if (!app || !checkIp(req, res, app)) return;
  sendJson(res, 200, { accessToken: appTokenFor(ctx, app.appKey), expireIn: TOKEN_TTL_SECONDS });
}

/** The unified endpoint: snake_case in and out (SDK GetTokenRequest/ResponseBody). */
function corpToken(ctx: SandboxContext, req: Request, res: Response): void {
  const fields = requireFields(req, res, ['client_id', 'client_secret', 'grant_type']);
  if (!fields) return;
  const app = authenticateApp(ctx, res, fields.client_id, fields.client_secret);
  if (!app) return;
  if (app.corpId !== req.params.corpId) return sendApiError(res, 400, 'invalidParameter.corpId.invalid', 'corpId 与应用不匹配');
  if (fields.grant_type !== 'client_credentials') {
    return sendApiError(res, 400, 'invalidParameter.grantType.invalid', 'grant_type 只能是 client_credentials');
  }
  if (!checkIp(req, res, app)) return;
  sendJson(res, 200, { access_token: appTokenFor(ctx, app.appKey), expires_in: TOKEN_TTL_SECONDS });
}

function contactUser(ctx: SandboxContext, req: Request, res: Response): void {
  // Only this header carries the user token; `Authorization: Bearer` is not read.
  const token = req.get('x-acs-dingtalk-access-token');
  const grant = token ? ctx.userTokens.peek(token) : undefined;
  const app = grant && ctx.apps.get(grant.appKey);
  const person = grant && ctx.directory.personByUserid(grant.userid);
  if (!app || !person) return sendApiError(res, 400, 'InvalidAuthentication', '不合法的access_token');
  const denied = '没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp-server/add-api-permission';
  if (!hasScope(app, 'Contact.User.Read')) {
    return sendApiError(res, 403, 'Forbidden.AccessDenied.AccessTokenPermissionDenied', denied, {
      accessdenieddetail: { requiredScopes: ['Contact.User.Read'] },
    });
  }
  if (req.params.unionId !== 'me' && req.params.unionId !== person.unionId) {
    return sendApiError(res, 403, 'Forbidden.AccessDenied.AccessTokenPermissionDenied', denied);
  }
  const withMobile = hasScope(app, 'Contact.User.mobile') && person.mobile !== undefined;
  sendJson(res, 200, {
    nick: person.name,
    ...(person.avatarUrl ? { avatarUrl: person.avatarUrl } : {}),
    unionId: person.unionId,
    openId: person.openId,
    ...(withMobile ? { mobile: person.mobile, stateCode: person.stateCode ?? '86' } : {}),
    ...(person.email ? { email: person.email } : {}),
    visitor: false,
  });
}

export function apiRoutes(ctx: SandboxContext): Router {
  const router = Router();
  router.post('/v1.0/oauth2/userAccessToken', rawBody, (req, res) => userAccessToken(ctx, req, res));
  router.post('/v1.0/oauth2/accessToken', rawBody, (req, res) => appAccessToken(ctx, req, res));
  router.post('/v1.0/oauth2/:corpId/token', rawBody, (req, res) => corpToken(ctx, req, res));
  router.get('/v1.0/contact/users/:unionId', (req, res) => contactUser(ctx, req, res));
  return router;
}
