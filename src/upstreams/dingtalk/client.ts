/**
 * HTTP to DingTalk's two API families, each call bounded by `timeoutMs` (AbortSignal.timeout on
 * every fetch, covering the body too), each failure logged once with DingTalk's code, message and
 * request id, and raised as a DingTalkCallError for the caller to interpret.
 * - api.dingtalk.com (v1.0): JSON bodies; errors are non-2xx `{code, requestid, message}`.
 * - oapi.dingtalk.com: HTTP 200 with `errcode` (0 = ok) and `request_id`.
 * Under per-IP throttling DingTalk answers neither shape but an anti-crawl body such as
 * `{"status":1111,"wait":5,"punish":"deny"}` or an HTML page (docs/reference/dingtalk.md).
 */
import { isTooLarge } from '../capped-fetch.js';
import { causeChain } from '../error-causes.js';
import { isObject } from '../fetch-json.js';
import { ERRCODE, TOKEN_HEADER } from './constants.js';

export interface DingTalkLog {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
}

export interface ClientOptions {
  upstream: string;
  endpoints: { api: string; oapi: string };
  fetch: typeof fetch;
  timeoutMs: number;
  log: DingTalkLog;
}

/** A failed call. `code` is DingTalk's (errcode as text, or the v1.0 code) or one of ours: timeout, unreachable, anti_crawl, bad_response. */
export class DingTalkCallError extends Error {
  override name = 'DingTalkCallError';
  constructor(
    readonly api: string,
    readonly status: number,
    readonly code: string,
    readonly dingtalkMessage: string,
    readonly requestId?: string,
    /** For reading structured details (requiredScopes, sub_code); may hold nothing secret, but is not logged. */
    readonly body?: unknown,
    options?: ErrorOptions,
  ) {
    super(`${api}: ${code} ${dingtalkMessage}`, options);
  }

  /** The oapi errcode (or a numeric v1.0 code) as a number. */
  get errcode(): number | undefined {
    return /^-?\d+$/.test(this.code) ? Number(this.code) : undefined;
  }
}

export interface CallOptions {
  /** Idempotent lookups are sent once more after a network failure, a timeout or "busy"; the code exchange never is. */
  retry: boolean;
}

export interface ApiRequest {
  method: 'GET' | 'POST';
  path: string;
  json?: Record<string, unknown>;
  /** A v1.0 token, sent in DingTalk's own header. */
  token?: string;
}

export interface OapiRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  json?: Record<string, unknown>;
}

export interface DingTalkClient {
  /** The 2xx JSON object of a v1.0 call. */
  api(request: ApiRequest, options: CallOptions): Promise<Record<string, unknown>>;
  /** The `errcode: 0` envelope of an oapi call. */
  oapi(request: OapiRequest, options: CallOptions): Promise<Record<string, unknown>>;
}

const MAX_LOGGED_MESSAGE = 300;

/** The messages along a network failure's cause chain: `fetch failed: connect ECONNREFUSED 10.0.0.9:3128`. */
function causeMessage(err: unknown): string {
  return [...causeChain(err)]
    .map((e) => e.message)
    .join(': ')
    .slice(0, MAX_LOGGED_MESSAGE);
}

export function createClient(options: ClientOptions): DingTalkClient {
  const { upstream, endpoints, log } = options;

  async function once(family: 'api' | 'oapi', path: string, url: string, init: RequestInit): Promise<Record<string, unknown>> {
    let response: Response | undefined;
    let text: string;
    try {
      response = await options.fetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'manual' });
      text = await response.text();
    } catch (err) {
      if (isTooLarge(err))
        throw new DingTalkCallError(path, response?.status ?? 0, 'bad_response', 'answer too large', undefined, undefined, { cause: err });
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new DingTalkCallError(
        path,
        0,
        timedOut ? 'timeout' : 'unreachable',
        timedOut ? `no answer within ${options.timeoutMs} ms` : 'network error',
        undefined,
        undefined,
        { cause: err },
      );
    }
    const body = parse(text);
    const headerId = response.headers.get('x-acs-request-id') ?? undefined;
    const failure = family === 'api' ? apiFailure(path, response.status, body, headerId) : oapiFailure(path, response.status, body);
    if (failure) throw failure;
    return body as Record<string, unknown>;
  }

  async function call(family: 'api' | 'oapi', path: string, url: string, init: RequestInit, { retry }: CallOptions) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await once(family, path, url, init);
      } catch (err) {
        if (!(err instanceof DingTalkCallError)) throw err;
        const again = retry && attempt === 1 && isRetryable(err);
        log.warn(
          {
            upstream,
            api: path,
            status: err.status,
            code: err.code,
            message: err.dingtalkMessage.slice(0, MAX_LOGGED_MESSAGE),
            requestId: err.requestId,
            // What failed on the way (a refused connection, an egress proxy's refusal), never a URL's query.
            ...(err.status === 0 && err.cause ? { cause: causeMessage(err.cause) } : {}),
            attempt,
            retrying: again,
          },
          'DingTalk call failed',
        );
        if (!again) throw err;
      }
    }
  }

  return {
    api(request, callOptions) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (request.token !== undefined) headers[TOKEN_HEADER] = request.token;
      if (request.json !== undefined) headers['content-type'] = 'application/json';
      const init: RequestInit = {
        method: request.method,
        headers,
        body: request.json === undefined ? undefined : JSON.stringify(request.json),
      };
      return call('api', request.path, endpoints.api.replace(/\/$/, '') + request.path, init, callOptions);
    },
    oapi(request, callOptions) {
      const url = new URL(endpoints.oapi.replace(/\/$/, '') + request.path);
      for (const [k, v] of Object.entries(request.query ?? {})) url.searchParams.set(k, v);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (request.json !== undefined) headers['content-type'] = 'application/json';
      const init: RequestInit = {
        method: request.method,
        headers,
        body: request.json === undefined ? undefined : JSON.stringify(request.json),
      };
      return call('oapi', request.path, url.href, init, callOptions);
    },
  };
}

function parse(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The per-IP block: neither DingTalk envelope, just `{status:1111, wait, punish}`. */
function isAntiCrawl(body: unknown): boolean {
  return isObject(body) && body.errcode === undefined && body.code === undefined && (body.punish !== undefined || body.status === 1111);
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function shapeFailure(path: string, status: number, body: unknown): DingTalkCallError | undefined {
  if (isAntiCrawl(body)) return new DingTalkCallError(path, status, 'anti_crawl', "request blocked by DingTalk's rate protection");
  if (!isObject(body)) {
    // A gateway's 5xx page is "busy"; anything else unparsable is no DingTalk answer at all.
    return status >= 500
      ? new DingTalkCallError(path, status, 'http_5xx', `HTTP ${status}`)
      : new DingTalkCallError(path, status, 'bad_response', `HTTP ${status} without a JSON object`);
  }
  return undefined;
}

function apiFailure(path: string, status: number, body: unknown, headerId: string | undefined): DingTalkCallError | undefined {
  const shape = shapeFailure(path, status, body);
  if (shape) return shape;
  if (status >= 200 && status < 300) return undefined;
  const b = body as Record<string, unknown>;
  const code = stringOf(b.code) ?? (status >= 500 ? 'http_5xx' : `http_${status}`);
  return new DingTalkCallError(path, status, code, stringOf(b.message) ?? '', stringOf(b.requestid) ?? headerId, body);
}

function oapiFailure(path: string, status: number, body: unknown): DingTalkCallError | undefined {
  const shape = shapeFailure(path, status, body);
  if (shape) return shape;
  const b = body as Record<string, unknown>;
  const errcode = stringOf(b.errcode);
  if (status === 200 && errcode === '0') return undefined;
  const code = errcode ?? (status >= 500 ? 'http_5xx' : `http_${status}`);
  return new DingTalkCallError(path, status, code, stringOf(b.errmsg) ?? '', stringOf(b.request_id), body);
}

/** Network trouble, timeouts, "system busy" (-1) and 5xx are worth one more try; throttling is not. */
export function isRetryable(err: DingTalkCallError): boolean {
  return (
    err.code === 'timeout' ||
    err.code === 'unreachable' ||
    err.code === 'http_5xx' ||
    err.code === 'ServiceUnavailable' ||
    err.errcode === ERRCODE.busy ||
    (err.status >= 500 && !isThrottled(err))
  );
}

/** Throttling in either family: 90002/90018/90019, v1.0 QpsLimit codes, 429, the anti-crawl block. */
export function isThrottled(err: DingTalkCallError): boolean {
  const n = err.errcode;
  return (
    n === ERRCODE.rateGlobal ||
    n === ERRCODE.rateApp ||
    n === ERRCODE.rateCorp ||
    err.code === 'anti_crawl' ||
    err.status === 429 ||
    /QpsLimit|Throttl|RateLimit|FlowControl/i.test(err.code)
  );
}

/** The v1.0 "your token is not valid" / oapi 40014, on which the app token is fetched again. */
export function isInvalidToken(err: DingTalkCallError): boolean {
  return err.errcode === ERRCODE.invalidToken || err.code === 'InvalidAuthentication';
}
