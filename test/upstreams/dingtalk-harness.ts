/**
 * Drives DingTalk upstreams end to end over real HTTP: the sandbox DingTalk on its own port, and a
 * tiny express app with the start and callback routes mounted as interactions/ mounts them
 * (`passport.authenticate(strategy, { session: false }, cb)`), with a Map-based single-use LegStore.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import passport from 'passport';
import { dingtalkUpstreamSchema, type DingTalkUpstreamConfig } from '../../src/config/schema.js';
import {
  createDingTalkSandbox,
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  SANDBOX_CORP_ID,
  type DingTalkSandbox,
  type SandboxApp,
  type SandboxListener,
} from '../../src/sandbox/index.js';
import { openMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { openDingTalk, type DingTalkDeps } from '../../src/upstreams/dingtalk/index.js';
import { upstreamOf } from '../../src/upstreams/registry.js';
import { LegStateError, type LegStore, type Upstream, type UpstreamIdentity } from '../../src/upstreams/types.js';

/** Extra sandbox apps, each in the sandbox organisation, for the permission cases. */
export const APPS = {
  /** Lacks Contact.User.Read: users/me answers 403 with requiredScopes. */
  noContactRead: { appKey: 'dingnoscopeapp', appSecret: 'noscope-secret' },
  /** Only 203.0.113.9 may call: the bridge (127.0.0.1) gets 60020. */
  ipLocked: { appKey: 'dingiplockedapp', appSecret: 'iplocked-secret' },
  /** Contacts scope limited to 研发中心 (100): people elsewhere get 60011. */
  rdOnly: { appKey: 'dingrdonlyapp', appSecret: 'rdonly-secret' },
} as const;

export interface LogLine {
  level: 'info' | 'warn';
  obj: Record<string, unknown>;
  msg?: string;
}

export interface Outcome {
  err?: unknown;
  identity?: UpstreamIdentity;
}

export interface Bench {
  sandbox: DingTalkSandbox;
  sandboxUrl: string;
  url: string;
  logs: LogLine[];
  log: DingTalkDeps['log'];
  /** A DingTalk config against the sandbox, schema defaults applied. */
  config(overrides?: Record<string, unknown>): DingTalkUpstreamConfig;
  /** Opens an upstream (own memory store unless given) and mounts its routes under `/…/<key>`. */
  add(overrides?: Record<string, unknown>, deps?: Partial<DingTalkDeps>): Mounted;
  close(): Promise<void>;
}

export interface Mounted {
  key: string;
  upstream: Upstream;
  config: DingTalkUpstreamConfig;
  store: Store;
  callbackUrl: string;
  /** GET the start route: DingTalk's authorize URL. */
  start(): Promise<URL>;
  /** GET the callback route with this query. */
  callback(query: Record<string, string>): Promise<Outcome>;
  /** Start, then come back with a code the sandbox issued for `userid`. */
  signIn(userid: string, codeOptions?: { corpId?: string; withCorpId?: boolean }): Promise<Outcome>;
  /** Start, follow to the sandbox login page, post it as `userid` (or `'deny'`), follow back. */
  signInWithForm(userid: string): Promise<Outcome>;
}

function mapLegStore(): LegStore {
  const legs = new Set<string>();
  return {
    async begin() {
      const state = randomBytes(16).toString('base64url');
      legs.add(state);
      return state;
    },
    async finish(_req: Request, state: string | undefined) {
      if (state === undefined) throw new LegStateError('missing', 'no state in the callback');
      if (!legs.delete(state)) throw new LegStateError('unknown', 'state unknown or already used');
      return {};
    },
  };
}

async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startBench(): Promise<Bench> {
  const extraApp = (a: { appKey: string; appSecret: string }, more: Partial<SandboxApp>): SandboxApp => ({
    ...a,
    corpId: SANDBOX_CORP_ID,
    redirectUris: [],
    ...more,
  });
  const sandbox = createDingTalkSandbox({
    apps: [
      { appKey: SANDBOX_APP_KEY, appSecret: SANDBOX_APP_SECRET, corpId: SANDBOX_CORP_ID, redirectUris: [] },
      extraApp(APPS.noContactRead, { grantedScopes: ['Contact.User.mobile'] }),
      extraApp(APPS.ipLocked, { allowedIps: ['203.0.113.9'] }),
      extraApp(APPS.rdOnly, { contactsScope: [100] }),
    ],
  });
  const dingtalk: SandboxListener = await sandbox.listen();
  const logs: LogLine[] = [];
  const log: DingTalkDeps['log'] = {
    info: (obj, msg) => {
      logs.push({ level: 'info', obj, ...(msg ? { msg } : {}) });
    },
    warn: (obj, msg) => {
      logs.push({ level: 'warn', obj, ...(msg ? { msg } : {}) });
    },
  };
  const app = express();
  const strategies = new Map<string, passport.Strategy>();
  const outcomes: Outcome[] = [];
  app.get('/start/:key', (req, res, next) => {
    passport.authenticate(strategies.get(req.params.key)!, { session: false }, (err: unknown) => {
      outcomes.push({ err });
      res.status(500).json({ outcome: outcomes.length - 1 });
    })(req, res, next);
  });
  app.get('/callback/:key', (req, res, next) => {
    passport.authenticate(
      strategies.get(req.params.key)!,
      { session: false, callback: true },
      (err: unknown, identity: UpstreamIdentity | false) => {
        outcomes.push(err ? { err } : { identity: identity || undefined });
        res.status(err ? 400 : 200).json({ outcome: outcomes.length - 1 });
      },
    )(req, res, next);
  });
  const bridge = await listen(app);
  const outcomeOf = async (res: Response): Promise<Outcome> => {
    const body = (await res.json()) as { outcome: number };
    return outcomes[body.outcome]!;
  };
  let counter = 0;
  const ownStores: Store[] = [];

  const config = (overrides: Record<string, unknown> = {}) =>
    dingtalkUpstreamSchema.parse({
      id: 'dingtalk',
      type: 'dingtalk',
      clientId: SANDBOX_APP_KEY,
      clientSecret: SANDBOX_APP_SECRET,
      corpId: SANDBOX_CORP_ID,
      endpoints: { authorize: `${dingtalk.url}/oauth2/auth`, api: dingtalk.url, oapi: dingtalk.url },
      ...overrides,
    });

  const bench: Bench = {
    sandbox,
    sandboxUrl: dingtalk.url,
    url: bridge.url,
    logs,
    log,
    config,
    add(overrides = {}, deps = {}) {
      const key = `u${(counter += 1)}`;
      const cfg = config(overrides);
      const store = deps.store ?? openMemoryStore();
      if (!deps.store) ownStores.push(store);
      const upstream = upstreamOf(openDingTalk(cfg, { log, ...deps, store }), log);
      const callbackUrl = `${bridge.url}/callback/${key}`;
      sandbox.addRedirectUri(cfg.clientId, callbackUrl);
      strategies.set(key, upstream.createStrategy(callbackUrl, mapLegStore()));
      const start = async () => {
        const res = await fetch(`${bridge.url}/start/${key}`, { redirect: 'manual' });
        await res.arrayBuffer();
        if (res.status !== 302) throw new Error(`start answered ${res.status}`);
        return new URL(res.headers.get('location')!);
      };
      const callback = async (query: Record<string, string>) =>
        outcomeOf(await fetch(`${callbackUrl}?${new URLSearchParams(query)}`, { redirect: 'manual' }));
      return {
        key,
        upstream,
        config: cfg,
        store,
        callbackUrl,
        start,
        callback,
        async signIn(userid, codeOptions) {
          const state = (await start()).searchParams.get('state')!;
          return callback({ authCode: sandbox.issueAuthCode(cfg.clientId, userid, codeOptions), state });
        },
        async signInWithForm(userid) {
          const authorize = await start();
          const page = await fetch(authorize);
          if (page.status !== 200) throw new Error(`login page answered ${page.status}: ${await page.text()}`);
          await page.text();
          const form = new URLSearchParams(authorize.searchParams);
          form.set(userid === 'deny' ? 'deny' : 'userid', userid === 'deny' ? '1' : userid);
          const back = await fetch(authorize.origin + authorize.pathname, { method: 'POST', body: form, redirect: 'manual' });
          await back.arrayBuffer();
          const location = back.headers.get('location');
          if (back.status !== 302 || !location) throw new Error(`login form answered ${back.status}`);
          return outcomeOf(await fetch(location, { redirect: 'manual' }));
        },
      };
    },
    async close() {
      await bridge.close();
      await dingtalk.close();
      await Promise.all(ownStores.map((s) => s.close()));
    },
  };
  return bench;
}
