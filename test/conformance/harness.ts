/**
 * The OP under certification-style test: the whole bridge as production wires it (`buildBridge` +
 * `listen` from src/server/listen.ts, memory store) in front of the OIDC double
 * (test/doubles/fake-oidc-issuer.ts), which auto-approves, so every module drives the real
 * front channel: /auth → interaction → upstream → callback → the client's redirect URI.
 * Two upstream ids point at the same double: clients restricted to `corp` go straight to it,
 * clients offered both see the chooser page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { buildBridge, type Bridge } from '../../src/server/bridge.js';
import { listen } from '../../src/server/listen.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { generateKeys } from '../../src/oidc/keys.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../doubles/fake-oidc-issuer.js';

export type ConfigInput = z.input<typeof configSchema>;
export type ClientInput = ConfigInput['clients'][number];

export const RP = 'https://rp.example.test';
export const REDIRECT = `${RP}/cb`;
export const POST_LOGOUT = `${RP}/logged-out`;
/** A post-logout URI registered with its query, exactly (RP-Initiated Logout 1.0 §3: the query is kept). */
export const POST_LOGOUT_WITH_QUERY = `${RP}/logged-out?from=op`;
export const COOKIE_SECRET = 'conformance-cookie-secret-0123456789abcdef';
export const secretOf = (clientId: string) => `${clientId}-secret-0123456789abcdef0123456789`;

/** The person the double signs in; phone in E.164 so the phone scope has something to release. */
export const UPSTREAM_USER = {
  sub: 'conf-user-1', name: 'Li Na', email: 'lina@example.test', email_verified: true,
  preferred_username: 'lina', phone_number: '+8613800000001', groups: ['platform'],
};

/** A confidential web client (client_secret_basic unless `extra` says otherwise) that offers only `corp`. */
export function webClient(clientId: string, extra: Partial<ClientInput> = {}): ClientInput {
  return {
    client_id: clientId, client_secret: secretOf(clientId), client_name: `Conformance ${clientId}`,
    redirect_uris: [REDIRECT], post_logout_redirect_uris: [POST_LOGOUT, POST_LOGOUT_WITH_QUERY],
    grant_types: ['authorization_code', 'refresh_token'], skipConsent: true, upstreams: ['corp'], emitEmail: 'any',
    ...extra,
  } as ClientInput;
}

export interface Op {
  issuer: string;
  config: Config;
  /** The bridge answering now (replaced by `restart`). */
  readonly bridge: Bridge;
  upstream: FakeOidcIssuer;
  /** Every log line the bridge wrote (JSON). */
  logs: Record<string, unknown>[];
  /** Resolves at the first log line (already written or to come) with this `msg`. */
  logged(msg: string): Promise<Record<string, unknown>>;
  /** A restart: a new bridge from the same config (keys re-read; the memory store starts empty) behind the same issuer. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

let sharedKeys: Promise<string> | undefined;
/** One key directory per test file (RSA generation is slow); tests that rotate keys bring their own. */
export function sharedKeysDir(): Promise<string> {
  sharedKeys ??= freshKeysDir();
  return sharedKeys;
}

export async function freshKeysDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-conformance-keys-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  await generateKeys(dir);
  return dir;
}

export interface OpOptions {
  clients: ClientInput[];
  keysDir?: string;
  /** Top-level config keys merged over the defaults (ttl, ui …). */
  config?: Partial<ConfigInput>;
}

function logCollector() {
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve(line: Record<string, unknown>): void }[] = [];
  const log = createLogger({ level: 'debug' }, {
    write(chunk: string) {
      for (const text of chunk.split('\n')) {
        if (!text.trim()) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        for (const waiter of waiters.filter((w) => w.msg === line.msg)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    },
  });
  const logged = (msg: string) => new Promise<Record<string, unknown>>((resolve) => {
    const seen = logs.find((line) => line.msg === msg);
    if (seen) resolve(seen);
    else waiters.push({ msg, resolve });
  });
  return { log, logs, logged };
}

function opConfig(issuer: string, upstream: FakeOidcIssuer, keysDir: string, options: OpOptions): Config {
  const upstreamConfig = (id: string) => ({
    id, type: 'oidc', displayName: { 'zh-CN': `企业账号 ${id}`, en: `Corporate ${id}` },
    issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, linkDomain: 'conformance',
  });
  return configSchema.parse({
    issuer,
    listen: { host: '127.0.0.1', port: Number(new URL(issuer).port) },
    store: { type: 'memory' },
    keys: { dir: keysDir },
    cookieSecrets: [COOKIE_SECRET],
    logging: { level: 'debug' },
    upstreams: [upstreamConfig('corp'), upstreamConfig('backup')],
    clients: options.clients,
    ...options.config,
  });
}

export async function startOp(options: OpOptions): Promise<Op> {
  const upstream = await startFakeOidcIssuer({ user: UPSTREAM_USER });
  const listener = await listen(undefined, { host: '127.0.0.1', port: 0 });
  const { log, logs, logged } = logCollector();
  let bridge: Bridge | undefined;
  // One listener for the life of the OP; `restart` swaps the bridge behind it.
  listener.attach((req, res) => bridge!.handler(req, res));
  const close = async () => {
    await listener.close({ graceMs: 0 });
    await bridge?.close();
    await upstream.close();
  };
  try {
    const config = opConfig(listener.url, upstream, options.keysDir ?? await sharedKeysDir(), options);
    // The double accepts only registered redirect URIs, as real upstreams do.
    for (const { id } of config.upstreams) upstream.addRedirectUri(`${config.issuer}/upstream/${id}/callback`);
    bridge = await buildBridge(config, { production: false, log });
    return {
      issuer: config.issuer, config, upstream, logs, logged, close,
      get bridge() { return bridge!; },
      async restart() {
        const previous = bridge!;
        bridge = await buildBridge(config, { production: false, log });
        await previous.close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
