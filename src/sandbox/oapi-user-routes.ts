// topapi user lookups. Errors are HTTP 200 {errcode, errmsg}.
// See docs/reference/dingtalk.md: "unionId → userid", "User details", "In-app login code".
import { Router, type Response } from 'express';
import { createHash } from 'node:crypto';
import { sendOapiError, sendOapiResult } from './error-bodies.js';
import { topapiCall } from './oapi-auth.js';
import { stringField } from './request-body.js';
import type { SandboxContext } from './sandbox-context.js';
import type { SandboxPerson } from './sample-organisation.js';

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** `result` of topapi/v2/user/get; absent values are omitted, as DingTalk does for unset fields. */
export function userDetails(person: SandboxPerson): Record<string, unknown> {
  const leads = person.leaderOf ?? [];
  return {
    active: true,
    admin: person.admin ?? false,
    ...optional('avatar', person.avatarUrl),
    boss: person.boss ?? false,
    dept_id_list: person.deptIds,
    dept_order_list: person.deptIds.map((deptId, i) => ({ dept_id: deptId, order: 176_000_000 + i })),
    ...optional('email', person.email),
    exclusive_account: false,
    hide_mobile: false,
    ...optional('hired_date', person.hiredDate),
    ...optional('job_number', person.jobNumber),
    leader_in_dept: person.deptIds.map((deptId) => ({ dept_id: deptId, leader: leads.includes(deptId) })),
    ...optional('manager_userid', person.managerUserid),
    ...optional('mobile', person.mobile),
    name: person.name,
    ...optional('org_email', person.orgEmail),
    real_authed: true,
    remark: '',
    senior: false,
    ...(person.mobile === undefined ? {} : { state_code: person.stateCode ?? '86' }),
    telephone: '',
    ...optional('title', person.title),
    unionid: person.unionId,
    userid: person.userid,
    work_place: '',
  };
}

function getByUnionId(ctx: SandboxContext, res: Response): void {
  const { app, fields } = topapiCall(res);
  const unionid = stringField(fields, 'unionid');
  if (!unionid) return sendOapiError(res, 40035, '缺少参数 unionid');
  const person = ctx.directory.personByUnionId(unionid);
  // External contacts are in the organisation's contacts (contact_type 1); departed people are not.
  if (!person || ctx.directory.corpOf(person) !== app.corpId || person.member === false) return sendOapiError(res, 60121);
  sendOapiResult(res, { contact_type: person.contactType ?? 0, userid: person.userid });
}

function getUser(ctx: SandboxContext, res: Response): void {
  const { app, fields } = topapiCall(res);
  const userid = stringField(fields, 'userid');
  if (!userid) return sendOapiError(res, 40035, '缺少参数 userid');
  const person = ctx.directory.personByUserid(userid);
  if (!person || !ctx.directory.isMemberOf(person, app.corpId)) return sendOapiError(res, 60121);
  if (!ctx.directory.personInScope(person, app.contactsScope ?? 'all')) return sendOapiError(res, 60011);
  sendOapiResult(res, userDetails(person));
}

/** The in-app (免登) code from requestAuthCode → who is signed in to the DingTalk client. */
function getUserInfo(ctx: SandboxContext, res: Response): void {
  const { app, fields } = topapiCall(res);
  const code = stringField(fields, 'code');
  if (!code) return sendOapiError(res, 40035, '缺少参数 code');
  const grant = ctx.inAppCodes.take(code);
  if (!grant || grant.appKey !== app.appKey) return sendOapiError(res, 40078);
  const person = ctx.directory.personByUserid(grant.userid);
  if (!person || !ctx.directory.isMemberOf(person, app.corpId)) return sendOapiError(res, 60121);
  sendOapiResult(res, {
    associated_unionid: '',
    device_id: createHash('sha256').update(person.userid).digest('hex').slice(0, 32),
    name: person.name,
    sys: person.admin ?? false,
    sys_level: person.admin ? 1 : person.boss ? 100 : 0,
    unionid: person.unionId,
    userid: person.userid,
  });
}

export function oapiUserRoutes(ctx: SandboxContext): Router {
  const router = Router();
  router.post('/topapi/user/getbyunionid', (_req, res) => getByUnionId(ctx, res));
  router.post('/topapi/v2/user/get', (_req, res) => getUser(ctx, res));
  router.post('/topapi/v2/user/getuserinfo', (_req, res) => getUserInfo(ctx, res));
  return router;
}
