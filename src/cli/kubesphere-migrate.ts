/**
 * `oidc-bridge kubesphere migrate`: moves KubeSphere users from the identity provider they sign in
 * through today (e.g. IDaaS) to the bridge without locking anyone out or duplicating users.
 * KubeSphere 3.x finds the user of a login by the labels identify-provider = <idp name> and
 * origin-uid = <sub>, and on a miss creates a User named after `preferred_username`, which fails
 * when that name exists; 4.x finds it by the annotation identity-provider.<idp name> = <sub>, and on
 * a miss attaches the login to the User of the same name (docs/reference/kubernetes.md). So each
 * user is mapped to the person who will sign in through the bridge, that person's account is
 * created now with the user's existing name, and the printed kubectl commands point the user at
 * the new identity provider name and the account's `sub`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Accounts, AdoptResult } from '../accounts/index.js';
import { dingtalkLinkDomainOf, type Config, type UpstreamConfig } from '../config/schema.js';
import { resolveOAuth2Config } from '../upstreams/oauth2/config.js';
import { oidcIdentityMapping } from '../upstreams/oidc/config.js';
import type { UpstreamIdentity } from '../upstreams/types.js';
import { withConfiguredAccounts } from './accounts.js';
import type { CliIo } from './kubesphere.js';
import {
  IDENTIFY_PROVIDER_LABEL,
  IDENTITY_PROVIDER_ANNOTATION,
  ORIGIN_UID_LABEL,
  UsersFileError,
  idpNameProblem,
  parseKubesphereUsers,
  type KubesphereUser,
} from './kubesphere-users.js';

export const MIGRATE_USAGE = `Usage: oidc-bridge kubesphere migrate --config <file> --users <users.yaml> --name <new idp name>
         --map-by idaas-sub|dingtalk-userid|csv [--csv <file>] [--from-idp <old idp name>]
         [--upstream <id>] [--userid-from sub|username] [--dry-run]

Reads KubeSphere users (kubectl get users -o yaml > users.yaml, 3.x or 4.x), maps each to the
person who will sign in through the bridge, creates that person's bridge account with the user's
existing name, and prints the kubectl commands that link the user to identity provider <new idp
name> (and, commented out, those that undo it). Users it cannot map are listed with the reason.

  --map-by idaas-sub        the old identity provider's sub is the person's sub at the bridge upstream
                            --upstream (default: the one oauth2/oidc upstream), e.g. IDaaS behind the bridge
  --map-by dingtalk-userid  the old sub (or, with --userid-from username, the user name) is the DingTalk
                            userid; the dingtalk upstream must link by userid (linkKey: userid)
  --map-by csv --csv FILE   lines username,upstream,value: the value the upstream links that person by
                            (DingTalk: the unionId or userid its linkKey names; oauth2/oidc: the sub)
  --from-idp NAME           the identity provider users are linked to now (needed when they have several)
  --dry-run                 change nothing; print what would be done
Exit status: 0 every user linked to an identity provider was mapped, 1 some were not (see the report).
`;

type MapBy = 'idaas-sub' | 'dingtalk-userid' | 'csv';

interface MigrateOptions {
  name: string;
  mapBy: MapBy;
  fromIdp: string | undefined;
  upstream: string | undefined;
  useridFrom: 'sub' | 'username';
  csv: Map<string, { upstream: string; value: string }>;
  dryRun: boolean;
}

/** One user's outcome. */
interface Row {
  user: KubesphereUser;
  /** The identity provider and sub the user is linked to now. */
  old?: { idp: string; sub: string };
  result?: AdoptResult;
  /** Why the user was not mapped (set when `result` is not a success). */
  problem?: string;
}

/** Parses the command line; a string is a usage error. */
function parseOptions(argv: string[]): (MigrateOptions & { users: string }) | { usage: string } | { help: true } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        users: { type: 'string' },
        name: { type: 'string' },
        'map-by': { type: 'string' },
        csv: { type: 'string' },
        'from-idp': { type: 'string' },
        upstream: { type: 'string' },
        'userid-from': { type: 'string' },
        'dry-run': { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { usage: (err as Error).message };
  }
  if (values.help) return { help: true };
  const mapBy = values['map-by'];
  if (values.users === undefined || values.name === undefined) return { usage: 'migrate needs --users and --name' };
  if (mapBy !== 'idaas-sub' && mapBy !== 'dingtalk-userid' && mapBy !== 'csv')
    return { usage: '--map-by is idaas-sub, dingtalk-userid or csv' };
  if ((mapBy === 'csv') !== (values.csv !== undefined)) return { usage: '--csv <file> goes with --map-by csv, and only with it' };
  const useridFrom = values['userid-from'] ?? 'sub';
  if (useridFrom !== 'sub' && useridFrom !== 'username') return { usage: '--userid-from is sub or username' };
  return {
    users: values.users,
    name: values.name,
    mapBy,
    fromIdp: values['from-idp'],
    upstream: values.upstream,
    useridFrom,
    csv:
      values.csv === undefined
        ? new Map<string, { upstream: string; value: string }>()
        : parseCsv(readFileSync(values.csv, 'utf8'), values.csv),
    dryRun: values['dry-run'] === true,
  };
}

/** `username,upstream,value` lines; a header line and blank or `#` lines are skipped. */
export function parseCsv(text: string, file: string): Map<string, { upstream: string; value: string }> {
  const rows = new Map<string, { upstream: string; value: string }>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || (i === 0 && /^username\s*,/i.test(trimmed))) return;
    const cells = trimmed.split(',').map((c) => c.trim());
    if (cells.length !== 3 || cells.some((c) => c === '')) {
      throw new UsersFileError(`${file}:${i + 1}: expected username,upstream,value (three non-empty fields)`);
    }
    const [username, upstream, value] = cells as [string, string, string];
    if (rows.has(username)) throw new UsersFileError(`${file}:${i + 1}: ${username} is listed twice`);
    rows.set(username, { upstream, value });
  });
  return rows;
}

/** The identity provider link being migrated: `--from-idp`, else the user's only one (not the new name). */
function oldLinkOf(user: KubesphereUser, options: MigrateOptions): { idp: string; sub: string } | string {
  if (user.links.size === 0) {
    return 'linked to no identity provider (a local user: reserve the name with oidc-bridge accounts reserve --from-kubesphere)';
  }
  if (options.fromIdp !== undefined) {
    const sub = user.links.get(options.fromIdp);
    return sub === undefined ? `not linked to identity provider ${options.fromIdp}` : { idp: options.fromIdp, sub };
  }
  const links = [...user.links].filter(([idp]) => idp !== options.name);
  if (links.length === 0) return `already linked to ${options.name} only`;
  if (links.length > 1) return `linked to several identity providers (${links.map(([idp]) => idp).join(', ')}): pass --from-idp`;
  const [idp, sub] = links[0]!;
  return { idp, sub };
}

/** The single upstream of the kinds given, or the one --upstream names. */
function upstreamFor(config: Config, options: MigrateOptions, types: UpstreamConfig['type'][]): UpstreamConfig | string {
  const candidates = config.upstreams.filter((u) => types.includes(u.type));
  if (options.upstream !== undefined) {
    const named = candidates.find((u) => u.id === options.upstream);
    return named ?? `no ${types.join('/')} upstream "${options.upstream}" in the config`;
  }
  if (candidates.length === 1) return candidates[0]!;
  return `the config has ${candidates.length} ${types.join('/')} upstreams: name one with --upstream`;
}

/**
 * The identity this person will have at the bridge, as far as migration must know it: the link
 * domain and link key (which give the `sub`) and the subject (`legacySubject` keeps it as the sub).
 */
function identityAt(upstream: UpstreamConfig, value: string): UpstreamIdentity | string {
  const base = { upstream: upstream.id, usernameHints: [], groups: [] };
  if (upstream.type === 'dingtalk') {
    const linkDomain = dingtalkLinkDomainOf(upstream);
    // With linkKey unionId the subject is the value too; with userid the unionId is unknown until the first login.
    if (upstream.linkKey === 'userid') {
      if (upstream.legacySubject)
        return `upstream ${upstream.id} has legacySubject, whose sub is the unionId, which a userid does not give`;
      return { ...base, subject: value, linkDomain, linkKey: value, extra: { dingtalk_userid: value } };
    }
    return { ...base, subject: value, linkDomain, linkKey: value, extra: { dingtalk_unionid: value } };
  }
  const mapping = upstream.type === 'oauth2' ? resolveOAuth2Config(upstream) : oidcIdentityMapping(upstream);
  if (mapping.claims.linkKey !== undefined) {
    return `upstream ${upstream.id} links people by claims.linkKey (${mapping.claims.linkKey}), not by their sub: use --map-by csv with those values`;
  }
  return { ...base, subject: value, linkDomain: mapping.linkDomain, linkKey: value, extra: {} };
}

/** The upstream and link value of one user under the chosen mapping, or why there is none. */
function identityFor(config: Config, options: MigrateOptions, user: KubesphereUser, oldSub: string): UpstreamIdentity | string {
  if (options.mapBy === 'csv') {
    const row = options.csv.get(user.name);
    if (!row) return 'not in the CSV file';
    const upstream = config.upstreams.find((u) => u.id === row.upstream);
    if (!upstream) return `the CSV names upstream "${row.upstream}", which the config does not have`;
    return identityAt(upstream, row.value);
  }
  if (options.mapBy === 'idaas-sub') {
    const upstream = upstreamFor(config, options, ['oauth2', 'oidc']);
    return typeof upstream === 'string' ? upstream : identityAt(upstream, oldSub);
  }
  const upstream = upstreamFor(config, options, ['dingtalk']);
  if (typeof upstream === 'string') return upstream;
  if (upstream.type === 'dingtalk' && upstream.linkKey !== 'userid') {
    return (
      `upstream ${upstream.id} links people by unionId, which a userid does not give before their first login: ` +
      'set linkKey: userid on it (before anyone signs in), or give the unionIds with --map-by csv'
    );
  }
  return identityAt(upstream, options.useridFrom === 'username' ? user.name : oldSub);
}

/** Maps and adopts every user, in file order; two users of one person: the second is a clash. */
async function migrateUsers(config: Config, accounts: Accounts, users: KubesphereUser[], options: MigrateOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const subs = new Map<string, string>();
  for (const user of users) {
    const old = oldLinkOf(user, options);
    if (typeof old === 'string') {
      rows.push({ user, problem: old });
      continue;
    }
    const identity = identityFor(config, options, user, old.sub);
    if (typeof identity === 'string') {
      rows.push({ user, old, problem: identity });
      continue;
    }
    const result = await accounts.adopt(identity, user.name, { dryRun: options.dryRun });
    const twin = subs.get(result.sub);
    if (twin !== undefined && result.outcome !== 'clash') {
      rows.push({ user, old, problem: `maps to the same person as ${twin} (sub ${result.sub})` });
      continue;
    }
    subs.set(result.sub, user.name);
    rows.push(result.outcome === 'clash' ? { user, old, result, problem: `name clash: ${result.reason!}` } : { user, old, result });
  }
  return rows;
}

/** The kubectl commands that link a user to the new identity provider, and those that undo it. */
function commandsFor(row: Row, name: string): { apply: string; undo: string } {
  const { user, old, result } = row;
  if (user.version === '3') {
    return {
      apply: `kubectl label user ${user.name} --overwrite ${IDENTIFY_PROVIDER_LABEL}=${name} ${ORIGIN_UID_LABEL}=${result!.sub}`,
      undo: `kubectl label user ${user.name} --overwrite ${IDENTIFY_PROVIDER_LABEL}=${old!.idp} ${ORIGIN_UID_LABEL}=${old!.sub}`,
    };
  }
  // 4.x keeps one annotation per identity provider: the old link stays, so undoing removes the new one.
  return {
    apply: `kubectl annotate user ${user.name} --overwrite ${IDENTITY_PROVIDER_ANNOTATION}.${name}=${result!.sub}`,
    undo: `kubectl annotate user ${user.name} ${IDENTITY_PROVIDER_ANNOTATION}.${name}-`,
  };
}

function render(rows: Row[], options: MigrateOptions, io: CliIo): void {
  const mapped = rows.filter((r) => r.problem === undefined);
  const header = options.dryRun
    ? '# DRY RUN: no account was created. These are the commands a real run prints.'
    : '# Every account below exists at the bridge now. Run these commands when the bridge is the identity provider.';
  const lines = [header, `# Link ${mapped.length} KubeSphere user(s) to identity provider "${options.name}":`];
  for (const row of mapped) lines.push(commandsFor(row, options.name).apply);
  lines.push('', '# To undo (back to the previous identity provider), run these instead:');
  for (const row of mapped) lines.push(`# ${commandsFor(row, options.name).undo}`);
  io.stdout(`${lines.join('\n')}\n`);

  const report = [
    `migrate: ${rows.length} user(s): ${mapped.length} mapped, ${rows.length - mapped.length} not mapped${options.dryRun ? ' (dry run)' : ''}`,
  ];
  for (const row of mapped) {
    report.push(`  mapped  ${row.user.name}: ${row.result!.outcome} sub ${row.result!.sub} (was ${row.old!.idp} ${row.old!.sub})`);
  }
  for (const row of rows.filter((r) => r.problem !== undefined)) report.push(`  NOT MAPPED  ${row.user.name}: ${row.problem!}`);
  io.stderr(`${report.join('\n')}\n`);
}

/** Runs `kubesphere migrate` with an accounts library (tests hand in their own). */
export async function runMigrate(
  config: Config,
  argv: string[],
  io: CliIo,
  withAccounts: <T>(fn: (a: Accounts) => Promise<T>) => Promise<T>,
): Promise<number> {
  let parsed;
  let users: KubesphereUser[];
  try {
    parsed = parseOptions(argv);
    if ('help' in parsed) {
      io.stdout(MIGRATE_USAGE);
      return 0;
    }
    if ('usage' in parsed) {
      io.stderr(`${parsed.usage}\n\n${MIGRATE_USAGE}`);
      return 2;
    }
    users = parseKubesphereUsers(readFileSync(parsed.users, 'utf8'), parsed.users);
  } catch (err) {
    if (err instanceof UsersFileError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      io.stderr(`error: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
  const options = parsed;
  const versions = new Set(users.map((u) => u.version));
  for (const version of versions) {
    const problem = idpNameProblem(options.name, version);
    if (problem !== undefined) {
      io.stderr(`error: --name: ${problem}\n`);
      return 1;
    }
  }
  const rows = await withAccounts((accounts) => migrateUsers(config, accounts, users, options));
  render(rows, options, io);
  // Local users (no identity provider) are not a failure: they keep signing in with a password.
  const failed = rows.filter((r) => r.problem !== undefined && r.user.links.size > 0);
  return failed.length === 0 ? 0 : 1;
}

/** `oidc-bridge kubesphere migrate …` against the configured store (audit lines to stderr: stdout is the commands). */
export function runMigrateFromConfig(config: Config, argv: string[], io: CliIo): Promise<number> {
  return runMigrate(config, argv, io, (fn) => withConfiguredAccounts(config, fn, process.stderr));
}
