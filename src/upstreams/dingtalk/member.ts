/**
 * Is this unionId a member of the organisation, and what does the organisation say about them?
 * Membership = getbyunionid answers a userid with contact_type 0 AND v2/user/get answers
 * (docs/architecture.md, "Decisions"). 60121 (and 33012 for the userid) means not, or no longer, a member.
 * v2/user/get's `active` means "has activated DingTalk", not employment: it is not looked at.
 */
import { DingTalkCallError } from './client.js';
import { ERRCODE, INTERNAL_EMPLOYEE } from './constants.js';
import type { Departments, GroupsSettings } from './departments.js';
import type { MemberView } from './identity.js';
import type { OrgApi } from './org-api.js';

export type MemberAnswer = { kind: 'member'; view: MemberView } | { kind: 'gone'; cause: 'not_member' | 'external_contact'; code: string };

export interface MemberDeps {
  org: OrgApi;
  departments: Departments;
  groups: GroupsSettings | undefined;
}

const gone = (err: unknown): string | undefined =>
  err instanceof DingTalkCallError && (err.errcode === ERRCODE.notFound || err.errcode === ERRCODE.invalidUserid) ? err.code : undefined;

/** Other failures propagate as DingTalkCallError. */
export async function lookupMember(deps: MemberDeps, unionId: string): Promise<MemberAnswer> {
  let found: Awaited<ReturnType<OrgApi['byUnionId']>>;
  try {
    found = await deps.org.byUnionId(unionId);
  } catch (err) {
    const code = gone(err);
    if (code !== undefined) return { kind: 'gone', cause: 'not_member', code };
    throw err;
  }
  // Refuse anything but an internal employee: external contacts (1) sit in the contacts too (docs/reference/dingtalk.md).
  if (found.contactType !== INTERNAL_EMPLOYEE) {
    return { kind: 'gone', cause: 'external_contact', code: `contact_type=${String(found.contactType)}` };
  }
  let details: Record<string, unknown>;
  try {
    details = await deps.org.user(found.userid);
  } catch (err) {
    const code = gone(err);
    if (code !== undefined) return { kind: 'gone', cause: 'not_member', code };
    throw err;
  }
  const deptIds = Array.isArray(details.dept_id_list) ? details.dept_id_list.filter((id): id is number => Number.isSafeInteger(id)) : [];
  const groups = await deps.departments.groupsOf(found.userid, deptIds, deps.groups);
  return { kind: 'member', view: { userid: found.userid, details, groups } };
}
