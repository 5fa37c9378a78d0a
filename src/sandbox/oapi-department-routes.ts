// topapi department lookups (docs/reference/dingtalk.md, "Departments").
import { Router, type Response } from 'express';
import { sendOapiError, sendOapiResult } from './error-bodies.js';
import { topapiCall } from './oapi-auth.js';
import { intField, stringField } from './request-body.js';
import type { SandboxContext } from './sandbox-context.js';
import type { SandboxDepartment } from './sample-organisation.js';

/** The department named by `dept_id` in the caller's organisation, or an error already sent. */
function requireDept(ctx: SandboxContext, res: Response, fallback?: number): SandboxDepartment | undefined {
  const { app, fields } = topapiCall(res);
  const raw = fields.dept_id;
  if (raw === undefined && fallback === undefined) return void sendOapiError(res, 40035, '缺少参数 dept_id');
  const deptId = raw === undefined ? fallback : intField(fields, 'dept_id');
  if (deptId === undefined) return void sendOapiError(res, 400002);
  const dept = ctx.directory.department(app.corpId, deptId);
  if (!dept) return void sendOapiError(res, 60003);
  return dept;
}

function departmentDetails(dept: SandboxDepartment): Record<string, unknown> {
  return {
    auto_add_user: true,
    create_dept_group: true,
    dept_id: dept.deptId,
    dept_manager_userid_list: dept.managerUserids ?? [],
    group_contain_sub_dept: false,
    hide_dept: false,
    name: dept.name,
    order: dept.order ?? 0,
    outer_dept: false,
    ...(dept.parentId === undefined ? {} : { parent_id: dept.parentId }),
  };
}

export function oapiDepartmentRoutes(ctx: SandboxContext): Router {
  const router = Router();
  router.post('/topapi/v2/department/get', (_req, res) => {
    const dept = requireDept(ctx, res);
    if (!dept) return;
    if (!ctx.directory.deptInScope(dept.deptId, topapiCall(res).app.contactsScope ?? 'all')) return sendOapiError(res, 60011);
    sendOapiResult(res, departmentDetails(dept));
  });
  // Not limited by the contacts scope, per the doc.
  router.post('/topapi/v2/department/listparentbyuser', (_req, res) => {
    const { app, fields } = topapiCall(res);
    const userid = stringField(fields, 'userid');
    if (!userid) return sendOapiError(res, 40035, '缺少参数 userid');
    const person = ctx.directory.personByUserid(userid);
    if (!person || !ctx.directory.isMemberOf(person, app.corpId)) return sendOapiError(res, 60121);
    const parentList = person.deptIds.map((id) => ({ parent_dept_id_list: ctx.directory.ancestry(id) }));
    sendOapiResult(res, { parent_list: parentList });
  });
  router.post('/topapi/v2/department/listparentbydept', (_req, res) => {
    const dept = requireDept(ctx, res);
    if (dept) sendOapiResult(res, { parent_id_list: ctx.directory.ancestry(dept.deptId) });
  });
  // dept_id defaults to the root, as in the doc.
  router.post('/topapi/v2/department/listsub', (_req, res) => {
    const dept = requireDept(ctx, res, 1);
    if (!dept) return;
    const children = ctx.directory.children(dept.deptId).map((d) => ({
      auto_add_user: true,
      create_dept_group: true,
      dept_id: d.deptId,
      name: d.name,
      parent_id: d.parentId,
    }));
    sendOapiResult(res, children);
  });
  return router;
}
