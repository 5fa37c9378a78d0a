/**
 * `--kubesphere-users users.yaml` (the output of `kubectl get users -o yaml`): every existing
 * KubeSphere user name must be one the bridge never hands to a new person, or KubeSphere 4.x
 * attaches that person to the existing user and 3.x locks them out (docs/reference/kubernetes.md).
 * A name is covered when it is reserved (built in, or `usernames.reserved`), pinned to its person
 * (`usernames.pins`), or already held in the store (an account's name, or a stored reservation).
 */
import { readFile } from 'node:fs/promises';
import { usernamePolicy } from '../../accounts/index.js';
import type { Config } from '../../config/schema.js';
import { parseKubesphereUsers } from '../kubesphere-users.js';
import { error, ok, warning, type Finding } from './findings.js';

const SUBJECT = 'kubesphere users';
const SHOWN = 20;

/**
 * What the store says about a name: held by an account, reserved, or free. Undefined when the
 * store could not be asked (the names are then judged by the config alone).
 */
export type StoreNames = ((name: string) => Promise<'account' | 'reserved' | undefined>) | undefined;

export async function checkKubeSphereUsers(config: Config, file: string, storeNames: StoreNames): Promise<Finding[]> {
  let names: string[];
  try {
    names = parseKubesphereUsers(await readFile(file, 'utf8'), file).map((user) => user.name);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    return [
      error(
        'kubesphere.users-file',
        SUBJECT,
        `cannot read ${file}: ${reason}`,
        'Export the users with `kubectl get users -o yaml > users.yaml` and pass that file.',
      ),
    ];
  }
  if (names.length === 0) {
    return [
      error(
        'kubesphere.users-file',
        SUBJECT,
        `${file} holds no User objects`,
        'Export them with `kubectl get users -o yaml` (the iam.kubesphere.io User kind).',
      ),
    ];
  }
  const policy = usernamePolicy(config.usernames);
  const uncovered: string[] = [];
  for (const name of names.map((n) => n.toLowerCase())) {
    if (policy.reserved.has(name) || policy.pinned.has(name)) continue;
    if (storeNames && (await storeNames(name)) !== undefined) continue;
    uncovered.push(name);
  }
  const findings: Finding[] = [];
  if (!storeNames) {
    findings.push(
      warning(
        'kubesphere.reserved-names',
        SUBJECT,
        'the store could not be asked, so names held by accounts or stored reservations were not counted',
        'Run doctor where the store is reachable.',
      ),
    );
  }
  if (uncovered.length === 0) {
    findings.push(ok('kubesphere.reserved-names', SUBJECT, `all ${names.length} KubeSphere user names are reserved, pinned or held`));
    return findings;
  }
  const shown = uncovered.slice(0, SHOWN).join(', ') + (uncovered.length > SHOWN ? ` and ${uncovered.length - SHOWN} more` : '');
  findings.push(
    error(
      'kubesphere.reserved-names',
      SUBJECT,
      `${uncovered.length} of ${names.length} existing KubeSphere user names could be given to a new person: ${shown}`,
      'Reserve them before anyone signs in: `oidc-bridge accounts reserve --from-kubesphere users.yaml`, or list them under usernames.reserved; ' +
        'to keep a person on their existing user, pin the name to them (usernames.pins) or migrate them (`oidc-bridge kubesphere migrate`).',
    ),
  );
  return findings;
}
