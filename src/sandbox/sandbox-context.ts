import { createOrgDirectory, type ContactsScope, type OrgDirectory } from './org-directory.js';
import type { SandboxOrg } from './sample-organisation.js';
import { createTokenTable, type TokenTable } from './token-table.js';

export interface SandboxApp {
  appKey: string;
  appSecret: string;
  corpId: string;
  /** Compared exactly with the authorize request's redirect_uri. */
  redirectUris: string[];
  /** When set, calls from other source IPs get 60020 / IpNotInWhiteList. */
  allowedIps?: string[];
  /** Default: all. Without `Contact.User.Read` users/me answers 403; without `Contact.User.mobile` it omits mobile. */
  grantedScopes?: string[];
  /** Department ids (with their subtrees) the app may read; people outside → 60011 on v2/user/get. Default all. */
  contactsScope?: ContactsScope;
}

export interface UserGrant {
  appKey: string;
  userid: string;
  /** Present only when the login scope included `corpid`. */
  corpId?: string;
}
export interface RefreshGrant extends UserGrant {
  accessToken: string;
}
export interface AppTokenGrant {
  appKey: string;
}

/** Codes: 5 min (DingTalk's documented lifetime of the in-app code; used for all codes). */
export const CODE_TTL_SECONDS = 300;
export const TOKEN_TTL_SECONDS = 7200;
export const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

export interface SandboxContext {
  directory: OrgDirectory;
  apps: Map<string, SandboxApp>;
  clock: () => number;
  authCodes: TokenTable<UserGrant>;
  inAppCodes: TokenTable<UserGrant>;
  snsCodes: TokenTable<UserGrant>;
  userTokens: TokenTable<UserGrant>;
  refreshTokens: TokenTable<RefreshGrant>;
  appTokens: TokenTable<AppTokenGrant>;
  /** The app token handed out last per appKey: DingTalk returns the same one while it is valid. */
  currentAppToken: Map<string, string>;
}

export function createSandboxContext(org: SandboxOrg, apps: SandboxApp[], clock: () => number): SandboxContext {
  return {
    directory: createOrgDirectory(org),
    apps: new Map(apps.map((a) => [a.appKey, { ...a, redirectUris: [...a.redirectUris] }])),
    clock,
    authCodes: createTokenTable(clock),
    inAppCodes: createTokenTable(clock),
    snsCodes: createTokenTable(clock),
    userTokens: createTokenTable(clock),
    refreshTokens: createTokenTable(clock),
    appTokens: createTokenTable(clock),
    currentAppToken: new Map(),
  };
}

/** Same token while valid, its lifetime renewed, as the gettoken / accessToken docs describe. */
export function appTokenFor(ctx: SandboxContext, appKey: string): string {
  const current = ctx.currentAppToken.get(appKey);
  if (current && ctx.appTokens.peek(current)) {
    ctx.appTokens.extend(current, TOKEN_TTL_SECONDS);
    return current;
  }
  const token = ctx.appTokens.issue({ appKey }, TOKEN_TTL_SECONDS);
  ctx.currentAppToken.set(appKey, token);
  return token;
}

export function hasScope(app: SandboxApp, scope: string): boolean {
  return app.grantedScopes === undefined || app.grantedScopes.includes(scope);
}

/** The caller's address as DingTalk reports it (IPv4-mapped IPv6 shown as IPv4). */
export function callerIp(remoteAddress: string | undefined): string {
  const ip = remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice('::ffff:'.length) : ip;
}

export function ipAllowed(app: SandboxApp, ip: string): boolean {
  return app.allowedIps === undefined || app.allowedIps.includes(ip);
}
