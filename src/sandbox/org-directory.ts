import type { SandboxDepartment, SandboxOrg, SandboxPerson } from './sample-organisation.js';

export type ContactsScope = 'all' | number[];

/** Read model over the (mutable) sandbox organisation. */
export interface OrgDirectory {
  readonly org: SandboxOrg;
  corpOf(person: SandboxPerson): string;
  personByUserid(userid: string): SandboxPerson | undefined;
  /** Anyone with a DingTalk account, member or not. */
  personByUnionId(unionId: string): SandboxPerson | undefined;
  /** A current employee of `corpId`: not departed, not an external contact. */
  isMemberOf(person: SandboxPerson, corpId: string): boolean;
  department(corpId: string, deptId: number): SandboxDepartment | undefined;
  /** Ids from `deptId` up to root 1, current department first. */
  ancestry(deptId: number): number[];
  children(deptId: number): SandboxDepartment[];
  /** "研发中心/平台组": names below the root, joined by "/". */
  pathOf(deptId: number): string;
  personInScope(person: SandboxPerson, scope: ContactsScope): boolean;
  deptInScope(deptId: number, scope: ContactsScope): boolean;
}

export function createOrgDirectory(org: SandboxOrg): OrgDirectory {
  const deptById = (id: number) => org.departments.find((d) => d.deptId === id);

  const ancestry = (deptId: number): number[] => {
    const chain: number[] = [];
    for (let d = deptById(deptId); d && !chain.includes(d.deptId); d = d.parentId === undefined ? undefined : deptById(d.parentId)) {
      chain.push(d.deptId);
    }
    return chain;
  };

  const deptInScope = (deptId: number, scope: ContactsScope) => scope === 'all' || ancestry(deptId).some((id) => scope.includes(id));

  const corpOf = (person: SandboxPerson) => person.corpId ?? org.corpId;

  return {
    org,
    corpOf,
    personByUserid: (userid) => org.people.find((p) => p.userid === userid),
    personByUnionId: (unionId) => org.people.find((p) => p.unionId === unionId),
    isMemberOf: (person, corpId) => corpOf(person) === corpId && person.member !== false && (person.contactType ?? 0) === 0,
    // Only the sandbox organisation has a department tree.
    department: (corpId, deptId) => (corpId === org.corpId ? deptById(deptId) : undefined),
    ancestry,
    children: (deptId) => org.departments.filter((d) => d.parentId === deptId),
    pathOf: (deptId) =>
      ancestry(deptId)
        .filter((id) => id !== 1)
        .reverse()
        .map((id) => deptById(id)?.name ?? String(id))
        .join('/'),
    personInScope: (person, scope) => person.deptIds.some((id) => deptInScope(id, scope)),
    deptInScope,
  };
}
