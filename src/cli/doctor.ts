/**
 * `oidc-bridge doctor`: checks a configuration against the world it runs in (its issuer, keys,
 * clients, upstreams, DingTalk app, store, and optionally the KubeSphere users it must not
 * collide with) and prints each finding with its fix. Exit status 1 on any error, 0 with warnings
 * only, 2 on a usage mistake. docs/doctor.md lists every check id and the JSON shape.
 */
import { parseArgs } from 'node:util';
import { ConfigError, configWarnings, loadConfig, productionConfigErrors } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EgressProxyError, processEgressProxy } from '../upstreams/egress-proxy.js';
import { httpFetch } from '../upstreams/http-fetch.js';
import { secretFindings, checkClients } from './doctor/clients.js';
import { checkDingTalk } from './doctor/dingtalk.js';
import { error, exitCodeOf, ok, warning, type CheckContext, type Finding } from './doctor/findings.js';
import { checkIssuer } from './doctor/issuer.js';
import { checkKeys } from './doctor/keys.js';
import type { StoreNames } from './doctor/kubesphere-users.js';
import { checkStore } from './doctor/store.js';
import { checkUpstreams } from './doctor/upstreams.js';
import { formatTable } from './format-table.js';

export const DOCTOR_USAGE = `Usage: oidc-bridge doctor [--config <file>] [--json] [--timeout <5s>] [--kubesphere-users <users.yaml>]

Checks the configuration against the running issuer, the signing keys, every client, the upstreams
(the DingTalk app's token, permissions, contacts scope and IP allow-list), and the store, and says
how to fix each problem.

  --json                      one JSON document on stdout (shape: docs/doctor.md)
  --timeout <duration>        limit for each network call: 5s (default), 1500ms, 10 …
  --kubesphere-users <file>   \`kubectl get users -o yaml\`: check that every existing user name is reserved

Exit status: 0 when nothing is wrong (warnings allowed), 1 on any error, 2 on a usage mistake.
`;

export interface DoctorIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  production: boolean;
  /** Defaults to the bridge's own upstream client (src/upstreams/http-fetch.ts), so a check sees what the server would. */
  fetch?: typeof fetch;
}

export interface DoctorOptions {
  timeoutMs: number;
  kubesphereUsers?: string;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** `oidc-bridge doctor …`; resolves to the exit code. `configPath` is resolved by main.ts. */
export async function runDoctorCommand(args: string[], configPath: string | undefined, io: DoctorIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      options: {
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        'kubesphere-users': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        config: { type: 'string', short: 'c' },
      },
    });
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${DOCTOR_USAGE}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout(DOCTOR_USAGE);
    return 0;
  }
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(values.timeout);
  if (timeoutMs === undefined) {
    io.stderr(`--timeout: expected a duration such as 5s, 1500ms or 10 (seconds), got "${values.timeout}"\n\n${DOCTOR_USAGE}`);
    return 2;
  }
  if (!configPath) {
    io.stderr('no config: pass --config <file>, set OIDC_BRIDGE_CONFIG, or create ./config.yaml\n');
    return 2;
  }
  const options: DoctorOptions = { timeoutMs, ...(values['kubesphere-users'] ? { kubesphereUsers: values['kubesphere-users'] } : {}) };
  const findings = await diagnoseConfigFile(configPath, options, io);
  io.stdout(values.json ? formatJson(findings) : formatHuman(findings));
  return exitCodeOf(findings);
}

/** `5s`, `1500ms`, `10` (seconds) → milliseconds; undefined when unreadable or zero. */
export function parseTimeout(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
  return ms >= 1 && ms <= 600_000 ? Math.round(ms) : undefined;
}

async function diagnoseConfigFile(path: string, options: DoctorOptions, io: DoctorIo): Promise<Finding[]> {
  let config: Config;
  try {
    config = await loadConfig(path, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [error('config.valid', 'config', err.message, 'Fix each problem listed; `oidc-bridge check` validates the file alone.')];
  }
  return diagnose(config, options, io);
}

/** Every check on a loaded config, in the order they are printed. */
export async function diagnose(config: Config, options: DoctorOptions, io: Omit<DoctorIo, 'stdout' | 'stderr'>): Promise<Finding[]> {
  const ctx: CheckContext = { timeoutMs: options.timeoutMs, fetch: io.fetch ?? httpFetch, now: () => new Date() };
  const [issuer, upstreams, dingtalk, store] = await Promise.all([
    checkIssuer(config, ctx),
    checkUpstreams(config, ctx),
    checkDingTalk(config, ctx),
    checkStore(config, ctx, io.production),
  ]);
  const keys = await checkKeys(config, ctx, issuer.jwks);
  const users = options.kubesphereUsers ? await kubesphereFindings(config, options.kubesphereUsers, store) : [];
  return [
    ...configFindings(config, io.production),
    ...egressFindings(),
    ...issuer.findings,
    ...keys,
    ...checkClients(config),
    ...upstreams,
    ...dingtalk,
    ...store,
    ...users,
  ];
}

/** The egress proxy every check below goes through, as the bridge's own calls do (docs/upstreams.md, "Egress proxy"). */
function egressFindings(): Finding[] {
  try {
    const egress = processEgressProxy();
    return egress ? [ok('egress.proxy', 'egress', egress.summary)] : [];
  } catch (err) {
    if (!(err instanceof EgressProxyError)) throw err;
    return [
      error(
        'egress.proxy',
        'egress',
        err.message,
        'Fix the variable in the environment of the bridge (its Deployment or unit file); `oidc-bridge check` reads it too. Every outgoing call below failed because of it.',
      ),
    ];
  }
}

function configFindings(config: Config, production: boolean): Finding[] {
  const problems = production
    ? productionConfigErrors(config).map((text) =>
        error('config.production', 'config', text, 'Change the named key: NODE_ENV=production refuses to start otherwise.'),
      )
    : [];
  const warnings = configWarnings(config).map((text) =>
    warning('config.warning', 'config', text, 'See the key in config.example.yaml; `oidc-bridge check` prints the same warning.'),
  );
  const secrets = [
    ...config.cookieSecrets.map((s, i) => secretFindings('config', `cookieSecrets[${i}]`, s)),
    ...config.store.encryptionKeys.map((s, i) => secretFindings('config', `store.encryptionKeys[${i}]`, s)),
  ].flat();
  return [...problems, ...warnings, ...secrets];
}

async function kubesphereFindings(config: Config, file: string, storeFindings: Finding[]): Promise<Finding[]> {
  // Loaded only for --kubesphere-users: the accounts library brings the pinyin dictionary along.
  const [{ checkKubeSphereUsers }, { createAccounts, unvouchedUpstreamsOf }, { openStore, storeOptionsOf }] = await Promise.all([
    import('./doctor/kubesphere-users.js'),
    import('../accounts/index.js'),
    import('../store/index.js'),
  ]);
  if (config.store.type === 'memory') return checkKubeSphereUsers(config, file, () => Promise.resolve(undefined));
  if (!storeFindings.some((f) => f.id === 'store.reachable' && f.severity === 'ok')) return checkKubeSphereUsers(config, file, undefined);
  const store = await openStore(storeOptionsOf(config.store));
  try {
    const accounts = createAccounts({
      store,
      usernames: config.usernames,
      unvouchedUpstreams: unvouchedUpstreamsOf(config.upstreams),
      log: { info() {}, warn() {} },
    });
    const reserved = new Set((await accounts.reservations()).map((r) => r.username));
    const names: StoreNames = async (name) =>
      reserved.has(name) ? 'reserved' : (await accounts.findByUsername(name)) ? 'account' : undefined;
    return await checkKubeSphereUsers(config, file, names);
  } finally {
    await store.close();
  }
}

const LABEL = { error: 'ERROR', warning: 'WARN', ok: 'ok' } as const;

export function formatHuman(findings: readonly Finding[]): string {
  const table = formatTable(
    ['STATUS', 'CHECK', 'SUBJECT', 'FINDING'],
    findings.map((f) => [LABEL[f.severity], f.id, f.subject, f.message]),
  );
  const toFix = findings.filter((f) => f.severity !== 'ok');
  const fixes =
    toFix.length === 0 ? '' : `\nTo fix:\n${toFix.map((f, i) => `${i + 1}. [${f.id}] ${f.subject}: ${f.fix ?? ''}`).join('\n')}\n`;
  const count = (s: Finding['severity']) => findings.filter((f) => f.severity === s).length;
  return `${table}${fixes}\n${count('error')} error(s), ${count('warning')} warning(s), ${count('ok')} ok\n`;
}

/** The documented, stable JSON shape (docs/doctor.md, "JSON output"). */
export function formatJson(findings: readonly Finding[]): string {
  const count = (s: Finding['severity']) => findings.filter((f) => f.severity === s).length;
  const document = {
    version: 1,
    ok: exitCodeOf(findings) === 0,
    summary: { error: count('error'), warning: count('warning'), ok: count('ok') },
    findings: findings.map((f) => ({ id: f.id, severity: f.severity, subject: f.subject, message: f.message, fix: f.fix ?? null })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
