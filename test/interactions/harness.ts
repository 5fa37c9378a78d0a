/**
 * The interaction router on a real express app over HTTP, with fakes for its neighbours: an
 * in-memory InteractionApi (the `_interaction` cookie binds a browser to its uid, as
 * oidc-provider's does), a registry of fake upstreams whose strategy behaves by the callback's
 * `code`, and an in-memory Accounts. The store, membership, request ids and logger are the real ones.
 */
import express, { type Request } from 'express';
import passport from 'passport';
import { AccountBusyError, AccountDisabledError, SubjectCollisionError } from '../../src/accounts/errors.js';
import { createMembership } from '../../src/accounts/membership.js';
import { ACCOUNT_SCHEMA_VERSION, type Account } from '../../src/accounts/types.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createInteractionRouter } from '../../src/interactions/interaction-router.js';
import type { AccountsPort, ClientExtras, InteractionPort, InteractionView, UpstreamsPort } from '../../src/interactions/ports.js';
import { InteractionExpiredError } from '../../src/oidc/interaction-view.js';
import { listen } from '../../src/server/listen.js';
import { requestIds } from '../../src/server/request-id.js';
import { openMemoryStore, type MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { UpstreamError, type LegStore, type Upstream, type UpstreamIdentity } from '../../src/upstreams/types.js';
import { Browser } from '../helpers/http-browser.js';
import { captureLogs, type LogLine } from '../helpers/logs.js';

export const COOKIE_SECRET = 'interaction-tests-cookie-secret-0123456789';
export const UPSTREAM_AUTHORIZE = 'https://upstream.example.test/authorize';
export const RP_ORIGIN = 'https://rp.example.test';

export interface Call {
  fn: 'finishLogin' | 'finishConsent' | 'finishError';
  uid: string;
  args: unknown[];
}

/** An InteractionApi double: views by uid, this browser's uid in the `_interaction` cookie. */
export class FakeInteractions implements InteractionPort {
  readonly views = new Map<string, InteractionView>();
  readonly extras = new Map<string, ClientExtras>();
  readonly calls: Call[] = [];
  constructor(private readonly issuer: string) {}

  add(view: Partial<InteractionView> & { uid: string }): InteractionView {
    const full: InteractionView = {
      prompt: 'login',
      reasons: ['no_session'],
      clientId: 'app',
      params: {},
      missingScopes: [],
      missingClaims: [],
      returnTo: `${this.issuer}/auth/${view.uid}`,
      expiresAt: Math.floor(Date.now() / 1000) + 600,
      ...view,
    };
    this.views.set(view.uid, full);
    return full;
  }

  async get(req: Parameters<InteractionPort['get']>[0], _res: unknown, uid: string): Promise<InteractionView> {
    if (uid === 'store-down') throw new StoreUnavailableError();
    if (uid === 'bug') throw new Error('internal detail: token=abc');
    const cookie = /(?:^|;\s*)_interaction=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const view = this.views.get(uid);
    if (!view || cookie !== uid) throw new InteractionExpiredError('no such interaction in this browser');
    return view;
  }

  async find(uid: string) {
    return this.views.get(uid);
  }

  private finish(fn: Call['fn'], uid: string, args: unknown[]): string {
    if (!this.views.has(uid)) throw new InteractionExpiredError('gone');
    this.calls.push({ fn, uid, args });
    return `${this.issuer}/auth/${uid}`;
  }

  async finishLogin(uid: string, login: Parameters<InteractionPort['finishLogin']>[1]) {
    return this.finish('finishLogin', uid, [login]);
  }

  async finishConsent(uid: string) {
    return this.finish('finishConsent', uid, []);
  }

  async finishError(uid: string, error: string, description?: string) {
    return this.finish('finishError', uid, [error, description]);
  }

  clientExtras(clientId: string) {
    return this.extras.get(clientId);
  }
}

export function identityOf(upstream: string, subject: string): UpstreamIdentity {
  return {
    upstream,
    subject,
    linkDomain: `test:${upstream}`,
    linkKey: subject,
    name: `Person ${subject}`,
    usernameHints: [],
    groups: [],
    extra: {},
  };
}

/**
 * A strategy driven by the callback's `code`: `ok`/anything → success; `notmember` → not_allowed;
 * `perm` → misconfigured; `down` → unavailable; `boom` → a plain Error. `?error=` is refused
 * before the state is looked at, as passport-oauth2 does.
 */
class FakeStrategy extends passport.Strategy {
  constructor(
    readonly upstreamId: string,
    private readonly legs: LegStore,
  ) {
    super();
    this.name = upstreamId;
  }

  override authenticate(req: Request): void {
    const self = this as unknown as {
      success(u: unknown): void;
      fail(c: unknown): void;
      error(e: unknown): void;
      redirect(u: string): void;
    };
    if (!req.path.endsWith('/callback')) {
      this.legs.begin(req, { nonce: 'n-0' }).then(
        (state) => self.redirect(`${UPSTREAM_AUTHORIZE}?state=${state}`),
        (err) => self.error(err),
      );
      return;
    }
    if (req.query.error) return self.fail(new UpstreamError(this.upstreamId, 'denied', 'the person cancelled'));
    const state = typeof req.query.state === 'string' ? req.query.state : undefined;
    this.legs.finish(req, state).then(
      () => {
        switch (req.query.code) {
          case 'notmember':
            return self.fail(
              new UpstreamError(this.upstreamId, 'not_allowed', 'not a member', { hint: 'notMember', params: { org: 'Acme <Corp>' } }),
            );
          case 'perm':
            return self.error(
              new UpstreamError(this.upstreamId, 'misconfigured', 'permission missing', {
                code: 'qyapi_get_member',
                hint: 'missingPermission',
                params: { permission: 'qyapi_get_member' },
              }),
            );
          case 'down':
            return self.error(new UpstreamError(this.upstreamId, 'unavailable', 'timeout'));
          case 'boom':
            return self.error(new Error('strategy bug'));
          default:
            return self.success(identityOf(this.upstreamId, typeof req.query.code === 'string' ? req.query.code : 'alice'));
        }
      },
      (err) => self.error(err),
    );
  }
}

export interface FakeUpstream extends Upstream {
  /**
   * identity (default): the person is confirmed; `relinked`: the fresh identity links to another
   * account; `unavailable`: an UpstreamError; `broken`: a plain Error (a bug in the upstream client).
   */
  recheckAnswer?: 'revoked' | 'identity' | 'unavailable' | 'relinked' | 'broken';
  rechecks: number;
}

export function fakeUpstream(id: string, type: Upstream['type'], displayName: Upstream['displayName']): FakeUpstream {
  const upstream: FakeUpstream = {
    id,
    type,
    displayName,
    rechecks: 0,
    createStrategy: (_callbackUrl: string, legs: LegStore) => new FakeStrategy(id, legs),
    async recheck(identity) {
      upstream.rechecks += 1;
      if (upstream.recheckAnswer === 'revoked') return 'revoked';
      if (upstream.recheckAnswer === 'unavailable') throw new UpstreamError(id, 'unavailable', 'upstream timed out');
      if (upstream.recheckAnswer === 'broken') throw new Error('recheck client bug');
      if (upstream.recheckAnswer === 'relinked') return { ...identity, linkKey: `${identity.linkKey}-elsewhere`, name: 'Rechecked' };
      return { ...identity, name: 'Rechecked' };
    },
  };
  return upstream;
}

export class FakeAccounts implements AccountsPort {
  readonly accounts = new Map<string, Account>();
  readonly marks: Array<{ fn: 'markChecked' | 'markLeft'; sub: string }> = [];

  async link(identity: UpstreamIdentity): Promise<Account> {
    if (identity.subject === 'disabled') throw new AccountDisabledError(`sub-${identity.subject}`);
    if (identity.subject === 'busy') throw new AccountBusyError(`sub-${identity.subject}`);
    if (identity.subject === 'collision') throw new SubjectCollisionError(identity.upstream, 'collision', 'oauth2:other.example.test');
    const account = this.put(`sub-${identity.subject}`, identity);
    return account;
  }

  /** `checkedAt`: epoch seconds of the last membership check (default: long ago). */
  put(sub: string, identity: UpstreamIdentity, status: Account['status'] = 'active', checkedAt = 0): Account {
    const account: Account = {
      schemaVersion: ACCOUNT_SCHEMA_VERSION,
      sub,
      linkDomain: identity.linkDomain,
      linkKey: identity.linkKey,
      username: identity.subject,
      status,
      upstream: identity.upstream,
      profile: identity,
      createdAt: 0,
      updatedAt: 0,
      checkedAt,
    };
    this.accounts.set(sub, account);
    return account;
  }

  async get(sub: string) {
    return this.accounts.get(sub);
  }

  /** Like Accounts.markChecked: a fresh identity that links to another account is a TypeError. */
  async markChecked(sub: string, identity: UpstreamIdentity) {
    const account = this.accounts.get(sub)!;
    if (identity.linkKey !== account.linkKey) throw new TypeError('the fresh identity links to another account');
    this.marks.push({ fn: 'markChecked', sub });
    return this.put(sub, identity, account.status, Math.floor(Date.now() / 1000));
  }

  async markLeft(sub: string) {
    this.marks.push({ fn: 'markLeft', sub });
    const account = this.accounts.get(sub)!;
    return { account: { ...account, status: 'left' as const }, grants: 0, sessions: 0 };
  }
}

export class FakeRegistry implements UpstreamsPort {
  constructor(readonly upstreams: Upstream[]) {}
  get(id: string) {
    return this.upstreams.find((u) => u.id === id);
  }
  all() {
    return [...this.upstreams];
  }
}

export function testConfig(issuer: string, overrides: Record<string, unknown> = {}, rp = RP_ORIGIN): Config {
  return configSchema.parse({
    issuer,
    cookieSecrets: [COOKIE_SECRET],
    upstreams: [
      { id: 'dingtalk', type: 'oidc', issuer: 'https://dingtalk.example.test', clientId: 'x' },
      // Without the prompt=none leg: a due recheck goes to the interactive leg (test/integration/silent-recheck.test.ts has the silent one).
      { id: 'idaas', type: 'oidc', issuer: 'https://idaas.example.test', clientId: 'y', silentRecheck: false },
    ],
    clients: [
      { client_id: 'app', client_secret: 'app-secret', client_name: 'Demo <App>', redirect_uris: [`${rp}/cb`] },
      {
        client_id: 'cli',
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        redirect_uris: ['http://localhost:8000'],
        upstreams: ['idaas'],
      },
    ],
    ...overrides,
  });
}

export interface Harness {
  issuer: string;
  base: string;
  interactions: FakeInteractions;
  accounts: FakeAccounts;
  upstreams: FakeUpstream[];
  store: MemoryStore;
  /** Every log line so far (test/helpers/logs.ts). */
  lines: LogLine[];
  /** A browser holding the interaction cookie of `uid` (as oidc-provider would have set it). */
  browser(uid?: string): Promise<Browser>;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0 first, so the issuer (with path `/sso`) names the real port. */
export interface HarnessOptions {
  /** Issuer path; default `/sso`. */
  path?: string;
  config?: Record<string, unknown>;
  /** Origin of a real relying party: client `app` redirects there, and `/auth/:uid` answers 303 to it. */
  rp?: string;
  /** Extra routes, added before the interaction router. */
  routes?: (app: express.Express, config: Config) => void;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const listening = await listen(undefined, { host: '127.0.0.1', port: 0 });
  const { port } = new URL(listening.url);
  const path = options.path ?? '/sso';
  const issuer = `http://127.0.0.1:${port}${path}`;
  const config = testConfig(issuer, options.config, options.rp);
  const interactions = new FakeInteractions(issuer);
  interactions.extras.set('app', { skipConsent: false, emitEmail: 'verified', resourceServer: false, requirePkce: false });
  interactions.extras.set('cli', {
    skipConsent: true,
    emitEmail: 'verified',
    resourceServer: false,
    requirePkce: false,
    upstreams: ['idaas'],
  });
  const upstreams = [
    fakeUpstream('dingtalk', 'dingtalk', { 'zh-CN': '钉钉', en: 'DingTalk' }),
    fakeUpstream('idaas', 'oauth2', 'Aliyun IDaaS'),
  ];
  const accounts = new FakeAccounts();
  const store = openMemoryStore({ sweepIntervalMs: 3_600_000 });
  const { log, lines } = captureLogs();
  const registry = new FakeRegistry(upstreams);
  const membership = createMembership({ accounts, upstreams: registry, store, configs: config.upstreams, log });
  const app = express();
  app.use(requestIds());
  app.get(`${path}/__test/bind/:uid`, (req, res) => {
    res.append('Set-Cookie', `_interaction=${req.params.uid}; Path=${path}/interaction/${req.params.uid}; HttpOnly; SameSite=Lax`);
    res.type('text').send('bound');
  });
  // What oidc-provider's resume endpoint does once the interaction is finished: back to the client.
  if (options.rp) app.get(`${path}/auth/:uid`, (req, res) => res.redirect(303, `${options.rp}/cb?code=fake-code&uid=${req.params.uid}`));
  options.routes?.(app, config);
  app.use(path || '/', createInteractionRouter({ config, interactions, upstreams: registry, accounts, membership, store, log }));
  app.use((_req, res) => {
    res.status(404).send('fell through');
  });
  listening.attach(app);
  return {
    issuer,
    base: `http://127.0.0.1:${port}`,
    interactions,
    accounts,
    upstreams,
    store,
    lines,
    async browser(uid) {
      const browser = new Browser();
      if (uid) await (await browser.fetch(`${issuer}/__test/bind/${uid}`)).arrayBuffer();
      return browser;
    },
    async close() {
      await store.close();
      await listening.close({ graceMs: 0 });
    },
  };
}
