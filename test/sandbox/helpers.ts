import { readFileSync } from 'node:fs';
import {
  createDingTalkSandbox,
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  type DingTalkSandbox,
  type SandboxOptions,
} from '../../src/sandbox/index.js';

export const REDIRECT_URI = 'http://127.0.0.1:9/upstream/dingtalk/callback';

export interface Running {
  sandbox: DingTalkSandbox;
  url: string;
  close(): Promise<void>;
}

/** A sandbox on a random port of 127.0.0.1; the default app also accepts REDIRECT_URI. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Running> {
  const sandbox = createDingTalkSandbox(options);
  if (!options.apps) sandbox.addRedirectUri(SANDBOX_APP_KEY, REDIRECT_URI);
  const listener = await sandbox.listen(0, '127.0.0.1');
  return { sandbox, url: listener.url, close: () => listener.close() };
}

/** A clock tests can move forward. */
export function manualClock(start = Date.UTC(2025, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function asJson(res: Response): Promise<JsonResponse> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return asJson(await fetch(url, { headers }));
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return asJson(
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
  );
}

export async function postForm(url: string, fields: Record<string, string>): Promise<JsonResponse> {
  return asJson(await fetch(url, { method: 'POST', body: new URLSearchParams(fields) }));
}

export async function appToken(url: string, appKey = SANDBOX_APP_KEY, appSecret = SANDBOX_APP_SECRET): Promise<string> {
  const res = await getJson(`${url}/gettoken?appkey=${appKey}&appsecret=${appSecret}`);
  if (typeof res.body.access_token !== 'string') throw new Error(`gettoken failed: ${JSON.stringify(res.body)}`);
  return res.body.access_token;
}

/** Exchanges a login code for the user token response. */
export async function userTokens(url: string, code: string): Promise<JsonResponse> {
  return postJson(`${url}/v1.0/oauth2/userAccessToken`, {
    clientId: SANDBOX_APP_KEY,
    clientSecret: SANDBOX_APP_SECRET,
    code,
    grantType: 'authorization_code',
  });
}

export function loadFixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/dingtalk/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** Keys and value types, recursively: what "same shape" means for the fixtures. */
export function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, shapeOf((value as Record<string, unknown>)[k])]),
    );
  }
  return typeof value;
}

/** The login URL the bridge would build (upstream-apis.md §1.1). */
export function authorizeUrl(base: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: SANDBOX_APP_KEY,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid corpid',
    state: 'st-123',
    prompt: 'consent',
    ...params,
  });
  return `${base}/oauth2/auth?${query}`;
}

/** Hidden fields of the login form, as a browser would post them back. */
export function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    out[decodeEntities(m[1] ?? '')] = decodeEntities(m[2] ?? '');
  }
  return out;
}

function decodeEntities(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
}
