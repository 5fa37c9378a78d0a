// `oidc-bridge keys generate | rotate | list`: manage the signing keys in the configured directory.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeys, listKeys, rotateKeys, type KeyInfo, type KeyRow } from '../oidc/keys.js';
import { formatTable } from './format-table.js';

export interface KeysCommandContext {
  keysDir: string;
  rotationLeadSeconds: number;
  maxTokenLifetimeSeconds: number;
  stdout: (s: string) => void;
  /** Errors and usage problems; defaults to stdout. */
  stderr?: (s: string) => void;
  production: boolean;
  now?: Date;
}

export const KEYS_USAGE = `Usage: oidc-bridge keys <command> [--config <path>] [--dir <dir>]

Commands:
  generate [--force]  create the first RS256 and ES256 signing keys, active at once
                      (--force replaces existing keys: tokens they signed stop verifying)
  rotate              add new RS256 and ES256 keys: published at once, used for signing
                      after keys.rotationLead
  list [--json]       show every key: created, activates, retires, state

The keys live in the config's keys.dir. --dir <dir> names the directory instead; without --config
no config is read then, and keys.rotationLead and the token lifetimes are their defaults (1h).
`;

const ALLOWED: Record<string, readonly string[]> = { generate: ['force'], rotate: [], list: ['json'] };

/** Runs a `keys` subcommand; resolves to the process exit code (0 ok, 1 failed, 2 usage). */
export async function runKeysCommand(args: string[], ctx: KeysCommandContext): Promise<number> {
  const stderr = ctx.stderr ?? ctx.stdout;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        // Read by main.ts to find keys.dir; tolerated here so the whole argv may be passed through.
        config: { type: 'string', short: 'c' },
        dir: { type: 'string' },
      },
    });
  } catch (err) {
    stderr(`${(err as Error).message}\n\n${KEYS_USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const [command, ...extra] = positionals;
  if (values.help || command === 'help') {
    ctx.stdout(KEYS_USAGE);
    return 0;
  }
  const allowed = command === undefined ? undefined : ALLOWED[command];
  const misplaced = Object.keys(values).filter((option) => option !== 'config' && option !== 'dir' && !allowed?.includes(option));
  if (!allowed || extra.length > 0 || misplaced.length > 0) {
    const problem = !allowed
      ? command
        ? `unknown keys command "${command}"`
        : 'missing keys command'
      : extra.length
        ? `unexpected argument "${extra[0]}"`
        : `--${misplaced[0]} does not apply to "keys ${command}"`;
    stderr(`${problem}\n\n${KEYS_USAGE}`);
    return 2;
  }
  try {
    if (command === 'generate') return await generate(ctx, values.force === true);
    if (command === 'rotate') return await rotate(ctx);
    return await list(ctx, values.json === true);
  } catch (err) {
    // Key errors carry a message meant for the operator; anything else still gets no stack trace.
    stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function generate(ctx: KeysCommandContext, force: boolean): Promise<number> {
  const keys = await generateKeys(ctx.keysDir, { force, ...(ctx.now ? { now: ctx.now } : {}) });
  ctx.stdout(
    `Generated signing keys in ${resolve(ctx.keysDir)}, active at once:\n${keyLines(keys)}` +
      'Keep the directory secret and give every replica the same copy (e.g. one Kubernetes Secret).\n',
  );
  return 0;
}

async function rotate(ctx: KeysCommandContext): Promise<number> {
  const keys = await rotateKeys(ctx.keysDir, {
    rotationLeadSeconds: ctx.rotationLeadSeconds,
    ...(ctx.now ? { now: ctx.now } : {}),
  });
  const activatesAt = keys[0]!.activatesAt;
  ctx.stdout(
    `Added signing keys to ${resolve(ctx.keysDir)}:\n${keyLines(keys)}` +
      `A replica publishes them once it has loaded them, and signs with them from ${iso(activatesAt)} (in ${duration(ctx.rotationLeadSeconds)}).\n` +
      'Give every replica the new files (in Kubernetes: update the Secret) well before then: each re-reads its keys\n' +
      'directory every keys.reloadInterval (default a minute) and publishes them, no restart needed.\n',
  );
  return 0;
}

async function list(ctx: KeysCommandContext, json: boolean): Promise<number> {
  const rows = await listKeys(ctx.keysDir, {
    maxTokenLifetimeSeconds: ctx.maxTokenLifetimeSeconds,
    ...(ctx.now ? { now: ctx.now } : {}),
  });
  if (json) {
    ctx.stdout(`${JSON.stringify(rows.map(jsonRow), null, 2)}\n`);
  } else if (rows.length === 0) {
    ctx.stdout(`No signing keys in ${resolve(ctx.keysDir)}. Create them with \`oidc-bridge keys generate\`.\n`);
  } else {
    ctx.stdout(table(rows));
  }
  return 0;
}

function keyLines(keys: KeyInfo[]): string {
  return keys.map((key) => `  ${key.alg}  ${key.kid}\n`).join('');
}

function jsonRow(row: KeyRow) {
  return {
    kid: row.kid,
    alg: row.alg,
    createdAt: row.createdAt.toISOString(),
    activatesAt: row.activatesAt.toISOString(),
    retiresAt: row.retiresAt?.toISOString() ?? null,
    state: row.state,
  };
}

function table(rows: KeyRow[]): string {
  const header = ['KID', 'ALG', 'CREATED', 'ACTIVATES', 'RETIRES', 'STATE'];
  const cells = rows.map((row) => [
    row.kid,
    row.alg,
    iso(row.createdAt),
    iso(row.activatesAt),
    row.retiresAt ? iso(row.retiresAt) : '-',
    row.state,
  ]);
  return formatTable(header, cells);
}

function iso(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds > 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0 && seconds > 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
