/**
 * KubeSphere `User` objects as `kubectl get users -o yaml` exports them (a `List`, a `UserList`, one
 * `User`, or several YAML documents), 3.x (`iam.kubesphere.io/v1alpha2`) and 4.x
 * (`iam.kubesphere.io/v1beta1`), reduced to what migration and reservation need: the name and the
 * identity providers the user is linked to. Link rules: docs/reference/kubernetes.md.
 */
import { parseAllDocuments } from 'yaml';

export type KubesphereVersion = '3' | '4';

/** Kubernetes label value: ≤ 63, alphanumeric at both ends, `-_.` inside. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** 4.x keeps a user's link in the annotation `iam.kubesphere.io/identity-provider.<name>`; its name part is ≤ 63. */
export const IDENTITY_PROVIDER_ANNOTATION = 'iam.kubesphere.io/identity-provider';
const ANNOTATION_NAME_ROOM = 63 - 'identity-provider.'.length;

/** Why `name` cannot be a KubeSphere identity provider's name (undefined when it can). */
export function idpNameProblem(name: string, version: KubesphereVersion): string | undefined {
  if (name === '' || name.length > 63 || !LABEL_VALUE.test(name)) {
    return (
      `"${name}" is not a valid Kubernetes label value (at most 63 characters: letters, digits, '-', '_' and '.', ` +
      'beginning and ending with a letter or digit); KubeSphere 3.x stores the name in a label of every linked user'
    );
  }
  if (version === '4' && name.length > ANNOTATION_NAME_ROOM) {
    return `"${name}" is longer than ${ANNOTATION_NAME_ROOM} characters: KubeSphere 4.x puts it in the annotation key ${IDENTITY_PROVIDER_ANNOTATION}.<name>, whose name part holds 63`;
  }
  return undefined;
}

/** 3.x: the labels a user linked to an identity provider carries (4.x keeps them after an upgrade). */
export const IDENTIFY_PROVIDER_LABEL = 'iam.kubesphere.io/identify-provider';
export const ORIGIN_UID_LABEL = 'iam.kubesphere.io/origin-uid';

export interface KubesphereUser {
  name: string;
  version: KubesphereVersion;
  /** Identity provider name → the `sub` it gave this user. */
  links: Map<string, string>;
}

export class UsersFileError extends Error {
  override name = 'UsersFileError';
}

interface RawUser {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; labels?: Record<string, unknown>; annotations?: Record<string, unknown> };
  items?: unknown;
}

/** Parses the export; throws UsersFileError naming what is wrong. */
export function parseKubesphereUsers(text: string, file: string): KubesphereUser[] {
  const users: KubesphereUser[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new UsersFileError(`${file}: not YAML: ${doc.errors[0]!.message}`);
    collect(doc.toJS() as RawUser | null, users, file);
  }
  return users;
}

function collect(raw: RawUser | null, users: KubesphereUser[], file: string): void {
  if (raw === null || typeof raw !== 'object') return;
  if (Array.isArray(raw.items)) {
    for (const item of raw.items) collect(item as RawUser, users, file);
    return;
  }
  if (raw.kind !== 'User')
    throw new UsersFileError(`${file}: expected User objects (kubectl get users -o yaml), found kind ${String(raw.kind)}`);
  const name = raw.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new UsersFileError(`${file}: a User without metadata.name`);
  const apiVersion = String(raw.apiVersion);
  const version = apiVersion === 'iam.kubesphere.io/v1alpha2' ? '3' : apiVersion === 'iam.kubesphere.io/v1beta1' ? '4' : undefined;
  if (version === undefined)
    throw new UsersFileError(`${file}: User ${name} has apiVersion ${apiVersion}, not iam.kubesphere.io/v1alpha2 (3.x) or v1beta1 (4.x)`);
  users.push({ name, version, links: linksOf(raw) });
}

function linksOf(raw: RawUser): Map<string, string> {
  const links = new Map<string, string>();
  const labels = raw.metadata?.labels ?? {};
  const idp = labels[IDENTIFY_PROVIDER_LABEL];
  const uid = labels[ORIGIN_UID_LABEL];
  if (typeof idp === 'string' && typeof uid === 'string' && idp !== '' && uid !== '') links.set(idp, uid);
  const prefix = `${IDENTITY_PROVIDER_ANNOTATION}.`;
  for (const [key, value] of Object.entries(raw.metadata?.annotations ?? {})) {
    if (key.startsWith(prefix) && typeof value === 'string' && value !== '') links.set(key.slice(prefix.length), value);
  }
  return links;
}
