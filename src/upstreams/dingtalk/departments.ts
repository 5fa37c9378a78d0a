/**
 * Departments as groups (docs/architecture.md, "Decisions"). `format: path` gives each department's path
 * below the organisation root joined by `/` (`研发中心/平台组`) and, with `ancestors`, every ancestor
 * path (`研发中心`); `format: id` gives `dept:<id>` values that survive renames. The root department
 * (the organisation itself) is no group. Chains come from listparentbyuser (one call, not limited by
 * the contacts scope); names from department/get, cached in the shared store for a few minutes.
 */
import type { DingTalkUpstreamConfig } from '../../config/schema.js';
import type { Store } from '../../store/types.js';
import { DingTalkCallError } from './client.js';
import { DEPT_CACHE_TTL_SECONDS, deptKey, ERRCODE, ROOT_DEPT_ID } from './constants.js';
import type { OrgApi } from './org-api.js';

export type GroupsSettings = NonNullable<DingTalkUpstreamConfig['groups']>;

export interface Departments {
  /** The person's groups; `deptIds` is v2/user/get's dept_id_list. */
  groupsOf(userid: string, deptIds: number[], settings: GroupsSettings | undefined): Promise<string[]>;
}

interface DeptInfo {
  name: string;
  parentId?: number;
}

const MAX_DEPTH = 64;

/** `/` separates path segments, so a `/` inside a name becomes the full-width `／`: no name can forge a deeper path. */
const segment = (name: string): string => name.replace(/\//g, '／').trim();

export function createDepartments(options: { org: OrgApi; store: Store; scope: string }): Departments {
  const { org, store, scope } = options;

  /** The department's name and parent; undefined when DingTalk no longer has it (60003). */
  async function info(deptId: number): Promise<DeptInfo | undefined> {
    const key = deptKey(scope, deptId);
    const hit = await store.ephemeral.get<DeptInfo>(key);
    if (hit) return hit;
    try {
      const fresh = await org.department(deptId);
      await store.ephemeral.set<DeptInfo>(key, fresh, DEPT_CACHE_TTL_SECONDS);
      return fresh;
    } catch (err) {
      if (err instanceof DingTalkCallError && err.errcode === ERRCODE.deptNotFound) return undefined;
      throw err;
    }
  }

  /** Fallback when listparentbyuser gives nothing: walk parent_id upwards. */
  async function walk(deptId: number): Promise<number[] | undefined> {
    const chain = [deptId];
    for (let id: number | undefined = deptId; id !== ROOT_DEPT_ID && chain.length < MAX_DEPTH;) {
      const dept: DeptInfo | undefined = await info(id);
      if (!dept) return undefined;
      if (dept.parentId === undefined || chain.includes(dept.parentId)) break;
      chain.push((id = dept.parentId));
    }
    return chain;
  }

  async function chainsOf(userid: string, deptIds: number[]): Promise<number[][]> {
    const chains = await org.parentChains(userid);
    if (chains.length > 0 || deptIds.length === 0) return chains;
    const walked = await Promise.all(deptIds.map(walk));
    return walked.filter((c): c is number[] => c !== undefined);
  }

  /** Paths of one chain, top-down: ['研发中心', '研发中心/平台组']; undefined when a department vanished meanwhile. */
  async function pathsOf(topDown: number[]): Promise<string[] | undefined> {
    const infos = await Promise.all(topDown.map(info));
    if (infos.some((d) => d === undefined)) return undefined;
    const names = infos.map((d) => segment(d!.name));
    return names.map((_, i) => names.slice(0, i + 1).join('/'));
  }

  return {
    async groupsOf(userid, deptIds, settings) {
      if (!settings) return [];
      const own = deptIds.filter((id) => id !== ROOT_DEPT_ID);
      if (settings.format === 'id' && !settings.ancestors) return unique(own.map((id) => `dept:${id}`));
      const chains = (await chainsOf(userid, deptIds))
        .map((chain) => chain.filter((id) => id !== ROOT_DEPT_ID).reverse())
        .filter((topDown) => topDown.length > 0);
      const mine: string[] = [];
      const above: string[] = [];
      for (const topDown of chains) {
        const values = settings.format === 'id' ? topDown.map((id) => `dept:${id}`) : await pathsOf(topDown);
        if (!values) continue;
        mine.push(values[values.length - 1]!);
        if (settings.ancestors) above.push(...values.slice(0, -1));
      }
      return unique([...mine, ...above]);
    },
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}
