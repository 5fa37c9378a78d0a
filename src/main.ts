/**
 * `oidc-bridge serve | check | keys | accounts | clients | kubesphere | doctor | demo`. Parses the command line, loads the config
 * and hands over to one command. Every failure ends as a message and an exit code, never a stack.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, configWarnings, loadConfig, productionConfigErrors, resolveConfigPath } from './config/load.js';
import type { Config } from './config/schema.js';
import { newHashedSecret } from './config/hashed-secret.js';
import { KEYS_USAGE, runKeysCommand } from './cli/keys.js';
import { KeysError, maxSignedTokenLifetime } from './oidc/keys.js';
import { EgressProxyError, processEgressProxy } from './upstreams/egress-proxy.js';

const CONFIG_SOURCE = 'The config file comes from --config, then OIDC_BRIDGE_CONFIG, then ./config.yaml.';

const USAGE = `Usage: oidc-bridge <command> [--config <file>]

Commands:
  serve                         run the bridge (the default)
  check                         validate the config and exit (non-zero with every problem)
  keys generate|rotate|list     manage the signing keys (oidc-bridge keys --help)
  accounts list|show|rename|revoke|reserve|unreserve|reserved
                                manage accounts (oidc-bridge accounts --help)
  kubesphere [migrate]          KubeSphere's identity provider entry for a client; move users from
                                another identity provider (oidc-bridge kubesphere --help)
  clients hash-secret           a new client secret and its sha256: form for the config
  doctor [--json]               check the config against the running issuer, keys, clients,
                                upstreams (DingTalk permissions, IP allow-list) and store
                                (oidc-bridge doctor --help)
  demo                          run the demo: a simulated DingTalk and a demo client

Every command answers --help (or -h) with its usage, and reads no config for it.
${CONFIG_SOURCE}
`;

const SERVE_USAGE = `Usage: oidc-bridge serve [--config <file>]

Runs the bridge with the config. Without a config it runs the demo instead (oidc-bridge demo
--help). Under NODE_ENV=production it needs a config and refuses to start on anything
\`oidc-bridge check\` reports as an error there.

${CONFIG_SOURCE}
`;

const CHECK_USAGE = `Usage: oidc-bridge check [--config <file>]

Validates the config with its \${ENV} values, and the egress proxy variables of the environment,
without starting anything: prints "ok" with a summary and exits 0, or prints every problem with its
path and exits 1. Under NODE_ENV=production it also refuses what serve refuses there: a plain-http
issuer, store.type: memory, the stand-in DingTalk JSAPI. Warnings go to stderr and do not fail it.

${CONFIG_SOURCE}
`;

const DEMO_USAGE = `Usage: oidc-bridge demo

Runs the demo, whatever config there is: the bridge on a memory store with a simulated DingTalk
(under /_sandbox) and a demo client (under /demo), at http://localhost:$PORT (default 8080).
Refused under NODE_ENV=production.
`;

const CLIENTS_USAGE = `Usage: oidc-bridge clients hash-secret
  prints a new random client secret and the sha256: value for its client_secret in the config
`;

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const isProduction = () => process.env.NODE_ENV === 'production';

/**
 * `--help` or `-h` among a command's arguments (before a `--`). Each command answers it first, so
 * asking for help never reads a config (which may be absent, or need variables not yet set) and
 * never starts a server.
 */
const wantsHelp = (argv: string[]) => {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

const help = (usage: string) => {
  out(usage);
  return 0;
};

async function requireConfig(argv: string[]): Promise<{ config: Config; path: string } | undefined> {
  const path = resolveConfigPath(argv, process.env);
  if (!path) return undefined;
  return { config: await loadConfig(path, process.env), path };
}

/** Prints what production refuses in this config; true when there is something. */
function refusedInProduction(config: Config): boolean {
  if (!isProduction()) return false;
  const errors = productionConfigErrors(config);
  for (const problem of errors) err(`error: ${problem}`);
  return errors.length > 0;
}

async function check(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help(CHECK_USAGE);
  const loaded = await requireConfig(argv);
  if (!loaded) {
    err('no config: pass --config <file>, set OIDC_BRIDGE_CONFIG, or create ./config.yaml');
    return 1;
  }
  if (refusedInProduction(loaded.config)) return 1;
  const egress = egressOrError();
  if (egress === false) return 1;
  for (const warning of configWarnings(loaded.config)) err(`warning: ${warning}`);
  const { config } = loaded;
  out(
    `${loaded.path}: ok (issuer ${config.issuer}; ${config.upstreams.length} upstream(s): ${config.upstreams.map((u) => `${u.id} [${u.type}]`).join(', ')}; ${config.clients.length} client(s))`,
  );
  if (egress) out(`egress proxy: ${egress.summary}`);
  return 0;
}

/** The egress proxy of this environment (undefined: none); false, with the problem printed, when a variable is unusable. */
function egressOrError(): ReturnType<typeof processEgressProxy> | false {
  try {
    return processEgressProxy();
  } catch (error) {
    if (!(error instanceof EgressProxyError)) throw error;
    err(`error: ${error.message}`);
    return false;
  }
}

async function keys(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help(KEYS_USAGE);
  // `--dir` names the directory itself: without --config no config is read, so keys can be made
  // for a deployment whose config needs secrets this machine does not hold (deploy/README.md).
  const { values } = parseArgs({ args: argv, options: { dir: { type: 'string' }, config: { type: 'string', short: 'c' } }, strict: false });
  const dir = typeof values.dir === 'string' ? values.dir : undefined;
  const loaded = dir !== undefined && values.config === undefined ? undefined : await requireConfig(argv);
  const config = loaded?.config;
  return runKeysCommand(argv, {
    keysDir: dir ?? config?.keys.dir ?? './keys',
    rotationLeadSeconds: config?.keys.rotationLead ?? 3600,
    maxTokenLifetimeSeconds: config ? maxSignedTokenLifetime(config.ttl) : 3600,
    production: isProduction(),
    stdout: out,
    stderr: err,
  });
}

async function accounts(argv: string[]): Promise<number> {
  // Each usage lives beside its command; these modules are imported only when used, help included.
  if (wantsHelp(argv)) return help((await import('./cli/accounts.js')).ACCOUNTS_USAGE);
  const loaded = await requireConfig(argv);
  if (!loaded) {
    err('accounts needs the config of the bridge whose store holds them (--config <file>)');
    return 1;
  }
  const { runAccountsFromConfig } = await import('./cli/accounts.js');
  return runAccountsFromConfig(loaded.config, argv, { stdout: out, stderr: err });
}

async function doctor(argv: string[]): Promise<number> {
  const { runDoctorCommand, DOCTOR_USAGE } = await import('./cli/doctor.js');
  if (wantsHelp(argv)) return help(DOCTOR_USAGE);
  return runDoctorCommand(argv, resolveConfigPath(argv, process.env), { stdout: out, stderr: err, production: isProduction() });
}

async function kubesphere(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    return help(
      argv[0] === 'migrate'
        ? (await import('./cli/kubesphere-migrate.js')).MIGRATE_USAGE
        : (await import('./cli/kubesphere.js')).KUBESPHERE_USAGE,
    );
  }
  const loaded = await requireConfig(argv);
  if (!loaded) {
    err('kubesphere needs the config of the bridge (--config <file>)');
    return 1;
  }
  const io = { stdout: out, stderr: err };
  if (argv[0] === 'migrate') {
    const { runMigrateFromConfig } = await import('./cli/kubesphere-migrate.js');
    return runMigrateFromConfig(loaded.config, argv.slice(1), io);
  }
  const { runKubesphereCommand } = await import('./cli/kubesphere.js');
  return runKubesphereCommand(loaded.config, argv, io);
}

/** `clients hash-secret`: the hash only ever stands for a fresh random secret, never a chosen one. */
function clients(argv: string[]): number {
  if (wantsHelp(argv)) return help(CLIENTS_USAGE);
  if (argv[0] !== 'hash-secret') {
    err(CLIENTS_USAGE);
    return 2;
  }
  const { secret, hashed } = newHashedSecret();
  out(`secret (give it to the relying party; keep it nowhere else): ${secret}`);
  out(`config: client_secret: "${hashed}"`);
  return 0;
}

async function serve(argv: string[], forceDemo: boolean): Promise<number> {
  if (wantsHelp(argv)) return help(forceDemo ? DEMO_USAGE : SERVE_USAGE);
  const loaded = forceDemo ? undefined : await requireConfig(argv);
  if (loaded) {
    if (refusedInProduction(loaded.config)) return 1;
    for (const warning of configWarnings(loaded.config)) err(`warning: ${warning}`);
    // Imported only when needed: `check` and `keys` load no server code, and only the demo loads
    // the sandbox and its relying party (openid-client, a development dependency).
    const { serveConfig } = await import('./cli/serve.js');
    await serveConfig(loaded.config, { configPath: loaded.path, production: isProduction() });
    return 0;
  }
  if (isProduction()) {
    err('no config: NODE_ENV=production needs one (--config <file>, OIDC_BRIDGE_CONFIG, or ./config.yaml); see config.example.yaml');
    return 1;
  }
  const { serveDemo } = await import('./cli/demo.js');
  const demo = await serveDemo({ port: Number(process.env.PORT ?? 8080) });
  // Stopped with Ctrl-C or SIGTERM: close, so the demo's generated private keys do not stay behind.
  const stop = () => void demo.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest, false);
    case 'demo':
      return serve(rest, true);
    case 'check':
      return check(rest);
    case 'keys':
      return keys(rest);
    case 'accounts':
      return accounts(rest);
    case 'clients':
      return clients(rest);
    case 'doctor':
      return doctor(rest);
    case 'kubesphere':
      return kubesphere(rest);
    case '--version':
    case '-v': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      out(pkg.version);
      return 0;
    }
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return 0;
    default:
      if (command.startsWith('-')) return serve(argv, false);
      err(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof KeysError || error instanceof EgressProxyError) {
      err(error.message);
    } else {
      err(`oidc-bridge: ${error instanceof Error ? error.message : String(error)}`);
      if (process.env.OIDC_BRIDGE_DEBUG) console.error(error);
    }
    // A failed start may leave sockets or timers behind; nothing useful can still happen.
    process.exit(1);
  },
);
