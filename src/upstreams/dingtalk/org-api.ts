/**
 * The organisation lookups (oapi topapi; docs/reference/dingtalk.md), each with the shared app token. All of them
 * are idempotent: sent once more after a network failure, a timeout or "system busy" (-1), and
 * once more with a freshly fetched app token when DingTalk calls the token invalid (40014).
 * Failures stay DingTalkCallErrors: what 60121 means depends on the caller.
 */
import { isObject } from '../fetch-json.js';
import type { AppTokens } from './app-token.js';
import { DingTalkCallError, isInvalidToken, type DingTalkClient } from './client.js';
import { OAPI } from './constants.js';

export interface OrgApi {
  /** topapi/user/getbyunionid → the organisation's userid and contact_type (0 internal, 1 external). */
  byUnionId(unionId: string): Promise<{ userid: string; contactType: number | undefined }>;
  /** topapi/v2/user/get → the `result` object. */
  user(userid: string): Promise<Record<string, unknown>>;
  /** topapi/v2/department/listparentbyuser → one chain per department of the person, own department first, root last. */
  parentChains(userid: string): Promise<number[][]>;
  /** topapi/v2/department/get → name and parent. */
  department(deptId: number): Promise<{ name: string; parentId?: number }>;
  /** topapi/v2/user/getuserinfo: the in-app (免登) code → who is signed in to the DingTalk app. The code is single use: never resent after a network failure. */
  inAppUser(code: string): Promise<{ userid: string; unionId?: string; name?: string }>;
}

export function createOrgApi(client: DingTalkClient, tokens: AppTokens): OrgApi {
  async function topapi(path: string, json: Record<string, unknown>, retry = true): Promise<unknown> {
    const send = (token: string) => client.oapi({ method: 'POST', path, query: { access_token: token }, json }, { retry });
    const token = await tokens.get();
    try {
      return (await send(token)).result;
    } catch (err) {
      if (!(err instanceof DingTalkCallError) || !isInvalidToken(err)) throw err;
      await tokens.invalidate(token);
      return (await send(await tokens.get())).result;
    }
  }

  return {
    async byUnionId(unionId) {
      const result = await topapi(OAPI.getByUnionId, { unionid: unionId });
      const userid = isObject(result) && typeof result.userid === 'string' && result.userid !== '' ? result.userid : undefined;
      if (!userid || !isObject(result)) throw malformed(OAPI.getByUnionId);
      return { userid, contactType: typeof result.contact_type === 'number' ? result.contact_type : undefined };
    },
    async user(userid) {
      const result = await topapi(OAPI.userGet, { userid, language: 'zh_CN' });
      if (!isObject(result)) throw malformed(OAPI.userGet);
      return result;
    },
    async parentChains(userid) {
      const result = await topapi(OAPI.listParentByUser, { userid });
      const list: unknown[] = isObject(result) && Array.isArray(result.parent_list) ? result.parent_list : [];
      return list
        .map((entry): unknown[] => (isObject(entry) && Array.isArray(entry.parent_dept_id_list) ? entry.parent_dept_id_list : []))
        .map((chain) => chain.filter((id): id is number => typeof id === 'number' && Number.isSafeInteger(id)))
        .filter((chain) => chain.length > 0);
    },
    async department(deptId) {
      const result = await topapi(OAPI.departmentGet, { dept_id: deptId, language: 'zh_CN' });
      if (!isObject(result) || typeof result.name !== 'string') throw malformed(OAPI.departmentGet);
      const parentId = typeof result.parent_id === 'number' ? result.parent_id : undefined;
      return parentId === undefined ? { name: result.name } : { name: result.name, parentId };
    },
    async inAppUser(code) {
      // A token DingTalk rejects (40014) is refused before the code is looked at: resending with a new token is safe.
      const result = await topapi(OAPI.inAppUserInfo, { code }, false);
      if (!isObject(result) || typeof result.userid !== 'string' || result.userid === '') throw malformed(OAPI.inAppUserInfo);
      const unionId = typeof result.unionid === 'string' && result.unionid !== '' ? result.unionid : undefined;
      const name = typeof result.name === 'string' && result.name !== '' ? result.name : undefined;
      return { userid: result.userid, ...(unionId ? { unionId } : {}), ...(name ? { name } : {}) };
    },
  };
}

function malformed(api: string): DingTalkCallError {
  return new DingTalkCallError(api, 200, 'bad_response', 'errcode 0 without the expected result');
}
