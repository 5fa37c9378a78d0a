/**
 * Reads config.yaml: YAML → `${ENV}` interpolation → schema. Every mistake is collected and
 * reported at once with its path, before anything listens.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, DEFAULT_RESERVED_USERNAMES, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** `--config <path>`, then `OIDC_BRIDGE_CONFIG`, then `./config.yaml` when it exists. */
export function resolveConfigPath(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = argv.findIndex((a) => a === '--config' || a === '-c');
  const inline = argv.find((a) => a.startsWith('--config='));
  const explicit = inline?.slice('--config='.length) ?? (i >= 0 ? argv[i + 1] : undefined) ?? env.OIDC_BRIDGE_CONFIG;
  if (explicit) return resolve(explicit);
  return existsSync('config.yaml') ? resolve('config.yaml') : undefined;
}

export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfig(text, env, path);
}

/** Parses config text; `source` names it in error messages. */
export function parseConfig(text: string, env: NodeJS.ProcessEnv, source = 'config'): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const problems: string[] = [];
  const typed: TypedReference[] = [];
  const { raw, result } = parseTypingReferences(interpolate(doc.toJS() ?? {}, env, [], problems, typed), typed);
  if (!result.success) {
    // A value whose variable is unset was already reported; its follow-on schema error adds nothing.
    const unset = new Set(problems.map((p) => p.slice(0, p.indexOf(': '))));
    problems.push(
      ...formatIssues(
        result.error.issues.filter((i) => !unset.has(formatPath(i.path))),
        raw,
      ),
    );
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  const config = result.data!;
  const semantic = checkUsernamePins(config);
  if (semantic.length > 0) throw new ConfigError(source, semantic);
  return config;
}

/** Things that are allowed but that an operator should hear about (printed by `check` and at start). */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  config.upstreams.forEach((u, i) => {
    if (u.type === 'dingtalk' && u.allowAnyDingTalkUser) {
      warnings.push(
        `upstreams[${i}] (${u.id}): allowAnyDingTalkUser is on: ANYONE with a DingTalk account can log in, not only members of an organisation`,
      );
    }
  });
  if (config.store.type === 'redis' && config.store.encryptionKeys.length === 0) {
    warnings.push(
      'store.encryptionKeys is empty: upstream credentials cached in Redis (the DingTalk app token) are stored in the clear, readable by anyone who can read Redis or its backups; set store.encryptionKeys: ["${STORE_KEY}"] with 32+ random characters',
    );
  }
  if (!config.issuer.startsWith('https://')) {
    warnings.push(`issuer: ${config.issuer} is not https; relying parties such as kube-apiserver refuse it outside development`);
  }
  return warnings;
}

/** Hosts whose traffic never leaves the machine: a plain-http issuer there exposes nothing on the network. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * What stops `check` and `serve` under NODE_ENV=production, beside the schema's own errors (and
 * what `doctor` reports as config.production). A plain http issuer would carry codes, tokens and
 * session cookies in clear text, which RFC 9700 and RFC 6749 §3.1 forbid
 * (https://www.rfc-editor.org/rfc/rfc9700#section-1.4); loopback is the one exception (a trial on
 * one machine). Only the command line asks, never buildBridge: the tests and the demo run the same
 * wiring on a memory store.
 */
export function productionConfigErrors(config: Config): string[] {
  const errors: string[] = [];
  const issuer = new URL(config.issuer);
  if (issuer.protocol !== 'https:' && !isLoopbackHost(issuer.hostname)) {
    errors.push(
      `issuer: ${config.issuer} is not https, which NODE_ENV=production refuses: codes, tokens and cookies would cross the network in clear text. ` +
        'Set an https:// issuer (terminate TLS at the bridge or at a proxy in front of it, with trustProxy), or run without NODE_ENV=production for a trial',
    );
  }
  if (config.store.type === 'memory') {
    errors.push(
      'store.type: memory under NODE_ENV=production: each replica would keep its own sessions, ' +
        'so with two or more, logins fail at random and nothing survives a restart. ' +
        'set store.type: redis (with store.url) as in config.example.yaml, or unset NODE_ENV=production for a single development process',
    );
  }
  // The stand-in JSAPI would let any browser that sets a cookie pick who the DingTalk app says it is.
  config.upstreams.forEach((u, i) => {
    if (u.type === 'dingtalk' && u.inAppLogin.standIn) {
      errors.push(
        `upstreams[${i}].inAppLogin.standIn: the stand-in DingTalk JSAPI is for the demo and tests, which NODE_ENV=production refuses. Remove it: the page then loads the bundled dingtalk-jsapi`,
      );
    }
  });
  return errors;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/** A value that is exactly one `${VAR}` reference and reads as a number or boolean, with that reading. */
interface TypedReference {
  path: (string | number)[];
  value: number | boolean;
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in string values (not in keys, and after YAML parsing, so a
 * value can never inject YAML structure). Every result is a string; a value that is exactly one
 * reference and reads as a number or boolean is noted in `typed` for parseTypingReferences.
 */
function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  problems: string[],
  typed: TypedReference[],
): unknown {
  if (typeof value === 'string') {
    const replaced = value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set (write \${${name}:-default} for a default)`);
      return '';
    });
    if (WHOLE_REF.test(value)) {
      if (/^-?\d+(\.\d+)?$/.test(replaced)) typed.push({ path, value: Number(replaced) });
      else if (replaced === 'true' || replaced === 'false') typed.push({ path, value: replaced === 'true' });
    }
    return replaced;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i], problems, typed));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k], problems, typed)]));
  }
  return value;
}

/**
 * Parses the interpolated config, giving a typed reference its number or boolean only where the
 * schema refuses the string and takes that type: `port: ${PORT}` is a number, while
 * `client_secret: ${SECRET}` stays a string whatever SECRET holds (12345678 is a valid secret, a
 * client id or a Redis password). YAML quoting cannot decide it, since `"${PORT}"` is a common way
 * to write a port. Each value is decided at its own path, by the issues zod reports there when
 * every reference is a string and when every one is typed.
 */
function parseTypingReferences(raw: unknown, typed: TypedReference[]) {
  const asStrings = configSchema.safeParse(raw);
  if (asStrings.success || typed.length === 0) return { raw, result: asStrings };
  const allTyped = withValues(raw, typed);
  const asTyped = configSchema.safeParse(allTyped);
  const refusedString = issuePaths(asStrings.error.issues, () => true);
  // A wrong type at the path (`expected string, received number`) says the schema wants no number
  // there; any other problem (a port out of range) is better reported on the typed value.
  const refusedType = issuePaths(asTyped.success ? [] : asTyped.error.issues, (issue) => issue.code === 'invalid_type');
  const chosen = typed.filter((t) => refusedString.has(pathKey(t.path)) && !refusedType.has(pathKey(t.path)));
  if (chosen.length === 0) return { raw, result: asStrings };
  if (chosen.length === typed.length) return { raw: allTyped, result: asTyped };
  const mixed = withValues(raw, chosen);
  return { raw: mixed, result: configSchema.safeParse(mixed) };
}

/** A copy of `raw` with each typed reference's value at its path. */
function withValues(raw: unknown, typed: TypedReference[]): unknown {
  const copy = structuredClone(raw);
  for (const { path, value } of typed) {
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], copy);
    (parent as Record<string | number, unknown>)[path.at(-1)!] = value;
  }
  return copy;
}

/**
 * The paths of the issues that `matches`, including those inside a union's alternatives, whose
 * paths zod gives relative to the union.
 */
function issuePaths(issues: readonly z.core.$ZodIssue[], matches: (issue: z.core.$ZodIssue) => boolean, base: PropertyKey[] = []) {
  const paths = new Set<string>();
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (matches(issue)) paths.add(pathKey(path));
    if (issue.code !== 'invalid_union') continue;
    for (const p of issuePaths(issue.errors.flat(), matches, path)) paths.add(p);
  }
  return paths;
}

const pathKey = (path: readonly PropertyKey[]) => JSON.stringify(path.map(String));

function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** `clients[1]` reads better as `clients[1] (kubectl)`; likewise upstreams by id. */
function describePath(path: PropertyKey[], raw: unknown): string {
  const where = formatPath(path);
  const [area, index] = path;
  if ((area === 'clients' || area === 'upstreams') && typeof index === 'number') {
    const entry = (raw as Record<string, unknown[]> | undefined)?.[area]?.[index] as Record<string, unknown> | undefined;
    const name = area === 'clients' ? entry?.client_id : entry?.id;
    if (typeof name === 'string' && name) return `${where} (${area === 'clients' ? 'client' : 'upstream'} "${name}")`;
  }
  return where;
}

function formatIssues(issues: z.core.$ZodIssue[], raw: unknown): string[] {
  return issues.map((issue) => {
    const where = describePath(issue.path, raw);
    if (issue.code === 'unrecognized_keys') {
      return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    if (issue.code === 'invalid_key') {
      return `${where}: invalid key: ${issue.issues[0]?.message ?? issue.message}`;
    }
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      return `${where}: required (expected ${issue.expected})`;
    }
    return `${where}: ${issue.message}`;
  });
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkUsernamePins(config: Config): string[] {
  const problems: string[] = [];
  const reserved = new Set([...DEFAULT_RESERVED_USERNAMES, ...config.usernames.reserved.map((r) => r.toLowerCase())]);
  const seen = new Map<string, string>();
  for (const [key, name] of Object.entries(config.usernames.pins)) {
    const where = `usernames.pins["${key}"]`;
    if (!DNS1123.test(name) || name.length > 32) {
      problems.push(`${where}: "${name}" is not a valid username (lowercase DNS-1123, at most 32 characters)`);
    } else if (reserved.has(name)) {
      problems.push(`${where}: "${name}" is a reserved username`);
    } else if (seen.has(name)) {
      problems.push(`${where}: "${name}" is already pinned to ${seen.get(name)}`);
    }
    seen.set(name, key);
  }
  return problems;
}
