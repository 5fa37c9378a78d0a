// `oidc-bridge accounts list | show | rename | revoke | reactivate | reserve | unreserve | reserved`:
// the operator's view of the durable accounts and of the usernames reserved in the store.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createAccounts, UnknownAccountError, unvouchedUpstreamsOf, type Account, type Accounts } from '../accounts/index.js';
import { legacySubjectUpstreamsOf, type Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { openStore, storeOptionsOf } from '../store/index.js';
import { formatTable } from './format-table.js';
import { parseKubesphereUsers } from './kubesphere-users.js';

export interface AccountsCommandContext {
  accounts: Accounts;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const ACCOUNTS_USAGE = `Usage: oidc-bridge accounts <command> [--config <path>]

Commands:
  list [--json]                    every account: username, sub, status, upstream, created, last checked
  show <username|sub>              one account as JSON (upstream tokens omitted)
  rename <username|sub> <new>      give a person a new username; the old one stays reserved for them
  revoke <username|sub> [--reason <text>]
                                   end every grant (with its tokens) and browser session of the person now
  reactivate <username|sub>        bring back an account marked left (a login through an upstream that
                                   does not check membership never does); a disabled account stays disabled
  reserve --from-kubesphere <users.yaml> | --from-list <names.txt>
                                   keep every existing KubeSphere user name (kubectl get users -o yaml), or
                                   every name of a list (one a line), from new people; every replica sees it.
                                   kubesphere migrate may still give a name to the person it belongs to
  unreserve <name>                 lift a reservation (a person's name is never released)
  reserved [--json]                every reserved name and where it came from
`;

const ARITY: Record<string, { args: number; options: readonly string[] }> = {
  list: { args: 0, options: ['json'] },
  show: { args: 1, options: [] },
  rename: { args: 2, options: [] },
  revoke: { args: 1, options: ['reason'] },
  reactivate: { args: 1, options: [] },
  reserve: { args: 0, options: ['from-kubesphere', 'from-list'] },
  unreserve: { args: 1, options: [] },
  reserved: { args: 0, options: ['json'] },
};

/** Runs an `accounts` subcommand; resolves to the process exit code (0 ok, 1 failed, 2 usage). */
export async function runAccountsCommand(args: string[], ctx: AccountsCommandContext): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        reason: { type: 'string' },
        'from-kubesphere': { type: 'string' },
        'from-list': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        // Read by main.ts to open the store; tolerated here so the whole argv may be passed through.
        config: { type: 'string', short: 'c' },
      },
    });
  } catch (err) {
    ctx.stderr(`${(err as Error).message}\n\n${ACCOUNTS_USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    ctx.stdout(ACCOUNTS_USAGE);
    return 0;
  }
  const spec = command === undefined ? undefined : ARITY[command];
  const misplaced = Object.keys(values).filter((option) => option !== 'config' && !spec?.options.includes(option));
  if (!spec || rest.length !== spec.args || misplaced.length > 0) {
    const problem = !spec
      ? command
        ? `unknown accounts command "${command}"`
        : 'missing accounts command'
      : rest.length !== spec.args
        ? `"accounts ${command}" takes ${spec.args} argument${spec.args === 1 ? '' : 's'}, got ${rest.length}`
        : `--${misplaced[0]} does not apply to "accounts ${command}"`;
    ctx.stderr(`${problem}\n\n${ACCOUNTS_USAGE}`);
    return 2;
  }
  try {
    if (command === 'list') return await list(ctx, values.json === true);
    if (command === 'show') return await show(ctx, rest[0]!);
    if (command === 'rename') return await rename(ctx, rest[0]!, rest[1]!);
    if (command === 'reactivate') return await reactivate(ctx, rest[0]!);
    if (command === 'reserve') return await reserve(ctx, values['from-kubesphere'], values['from-list']);
    if (command === 'unreserve') return await unreserve(ctx, rest[0]!);
    if (command === 'reserved') return await reserved(ctx, values.json === true);
    return await revoke(ctx, rest[0]!, values.reason);
  } catch (err) {
    // Account errors (unknown person, invalid or taken name) and store errors carry a message
    // meant for the operator; no stack trace either way.
    ctx.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function list(ctx: AccountsCommandContext, json: boolean): Promise<number> {
  const accounts = await ctx.accounts.list();
  if (json) ctx.stdout(`${JSON.stringify(accounts.map(withoutSecrets), null, 2)}\n`);
  else if (accounts.length === 0) ctx.stdout("No accounts yet: one is created at a person's first login.\n");
  else ctx.stdout(table(accounts));
  return 0;
}

async function show(ctx: AccountsCommandContext, ref: string): Promise<number> {
  const account = await ctx.accounts.find(ref);
  if (!account) throw new UnknownAccountError(ref);
  ctx.stdout(`${JSON.stringify(withoutSecrets(account), null, 2)}\n`);
  return 0;
}

async function rename(ctx: AccountsCommandContext, ref: string, newName: string): Promise<number> {
  const before = await ctx.accounts.find(ref);
  if (!before) throw new UnknownAccountError(ref);
  const after = await ctx.accounts.rename(before.sub, newName);
  ctx.stdout(
    `Renamed ${before.username} to ${after.username} (sub ${after.sub}). ` + `"${before.username}" stays reserved for this person.\n`,
  );
  return 0;
}

async function reactivate(ctx: AccountsCommandContext, ref: string): Promise<number> {
  const account = await ctx.accounts.reactivate(ref);
  ctx.stdout(`${account.username} (sub ${account.sub}) is ${account.status}.\n`);
  return 0;
}

async function revoke(ctx: AccountsCommandContext, ref: string, reason: string | undefined): Promise<number> {
  const { account, grants, sessions } = await ctx.accounts.revoke(ref, reason === undefined ? {} : { reason });
  ctx.stdout(`Revoked ${account.username} (sub ${account.sub}): ended ${plural(grants, 'grant')} and ${plural(sessions, 'session')}.\n`);
  return 0;
}

async function reserve(ctx: AccountsCommandContext, kubesphere: string | undefined, list: string | undefined): Promise<number> {
  if ((kubesphere === undefined) === (list === undefined)) {
    ctx.stderr(`"accounts reserve" takes one of --from-kubesphere <users.yaml> or --from-list <names.txt>\n\n${ACCOUNTS_USAGE}`);
    return 2;
  }
  const names =
    kubesphere !== undefined
      ? parseKubesphereUsers(readFileSync(kubesphere, 'utf8'), kubesphere).map((u) => u.name)
      : readFileSync(list!, 'utf8')
          .split(/\r?\n/)
          .map((line) => line.replace(/#.*$/, '').trim())
          .filter((line) => line !== '');
  const result = await ctx.accounts.reserve(names, kubesphere !== undefined ? 'kubesphere' : 'list');
  ctx.stdout(
    `Reserved ${plural(result.reserved.length, 'name')}; ${result.already.length} already reserved; ` +
      `${result.owned.length} already a person's (never given to anyone else).\n`,
  );
  if (result.invalid.length > 0) {
    // KubeSphere allows names the bridge never gives (longer than 32, say): nothing can collide with them.
    ctx.stdout(`Not reserved, the bridge never gives such names: ${result.invalid.join(', ')}\n`);
  }
  return 0;
}

async function unreserve(ctx: AccountsCommandContext, name: string): Promise<number> {
  if (await ctx.accounts.unreserve(name)) {
    ctx.stdout(`"${name}" is no longer reserved.\n`);
    return 0;
  }
  ctx.stderr(`error: "${name}" is not reserved (a name a person has or had is never released)\n`);
  return 1;
}

async function reserved(ctx: AccountsCommandContext, json: boolean): Promise<number> {
  const rows = await ctx.accounts.reservations();
  if (json) ctx.stdout(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) ctx.stdout('No reserved names.\n');
  else
    ctx.stdout(
      formatTable(
        ['USERNAME', 'SOURCE'],
        rows.map((r) => [r.username, r.source]),
      ),
    );
  return 0;
}

/** The account without the upstream's connectorData (refresh tokens, ids meant for the server only). */
function withoutSecrets(account: Account): Account {
  const { connectorData: _omitted, ...profile } = account.profile;
  return { ...account, profile };
}

function table(accounts: Account[]): string {
  const header = ['USERNAME', 'SUB', 'STATUS', 'UPSTREAM', 'CREATED', 'LAST CHECKED'];
  const cells = accounts.map((a) => [a.username, a.sub, a.status, a.upstream, iso(a.createdAt), iso(a.checkedAt)]);
  return formatTable(header, cells);
}

function iso(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Runs `fn` with the accounts library on the configured store, closing the store after. */
export async function withConfiguredAccounts<T>(
  config: Config,
  fn: (accounts: Accounts) => Promise<T>,
  auditTo?: { write(line: string): unknown },
): Promise<T> {
  const store = await openStore(storeOptionsOf(config.store));
  try {
    // Audit lines (rename, revoke, adopt) reach the log whatever logging.level says.
    const audit = createLogger({ level: 'info', name: 'oidc-bridge-audit' }, auditTo);
    const accounts = createAccounts({
      store,
      usernames: config.usernames,
      unvouchedUpstreams: unvouchedUpstreamsOf(config.upstreams),
      legacySubjectUpstreams: legacySubjectUpstreamsOf(config.upstreams),
      log: audit,
    });
    return await fn(accounts);
  } finally {
    await store.close();
  }
}

/** `oidc-bridge accounts …` against the configured store. */
export function runAccountsFromConfig(
  config: Config,
  argv: string[],
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<number> {
  return withConfiguredAccounts(config, (accounts) => runAccountsCommand(argv, { accounts, ...io }));
}
