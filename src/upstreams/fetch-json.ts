/**
 * One HTTP call to an upstream: bounded by the upstream's `timeoutMs`, network failures mapped to
 * UpstreamError('unavailable'), the body parsed leniently (JSON, or a form-encoded body as some
 * token endpoints still send). Callers decide what a status or body means.
 */
import { isTooLarge } from './capped-fetch.js';
import { UpstreamError } from './types.js';

export interface UpstreamHttp {
  /** Upstream id, for errors. */
  upstream: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

export interface FetchedBody {
  status: number;
  contentType: string;
  /** Parsed body; undefined when empty or unparsable. */
  body: unknown;
}

export async function fetchJson(http: UpstreamHttp, what: string, url: string, init: RequestInit): Promise<FetchedBody> {
  // One signal covers connect, headers and body: a server that trickles its body cannot hang us.
  const signal = AbortSignal.timeout(http.timeoutMs);
  try {
    const response = await http.fetch(url, { ...init, signal, redirect: 'manual' });
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    return { status: response.status, contentType, body: parseBody(text, contentType) };
  } catch (err) {
    throw unreachable(http, what, err);
  }
}

function parseBody(text: string, contentType: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // GitHub-style token endpoints answer form-encoded bodies, the case node-oauth also tolerates.
    if (/application\/x-www-form-urlencoded|text\/plain/i.test(contentType)) {
      return Object.fromEntries(new URLSearchParams(text));
    }
    return undefined;
  }
}

function unreachable(http: UpstreamHttp, what: string, err: unknown): UpstreamError {
  if (isTooLarge(err)) {
    return new UpstreamError(
      http.upstream,
      'unavailable',
      `${what} answered too large a body`,
      { code: 'response_too_large' },
      { cause: err },
    );
  }
  const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
  const message = timedOut ? `${what} timed out after ${http.timeoutMs} ms` : `${what} unreachable`;
  return new UpstreamError(http.upstream, 'unavailable', message, { code: timedOut ? 'timeout' : 'unreachable' }, { cause: err });
}

/** True for a JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An OAuth error code from an upstream, safe to show: letters, digits, `_.-` and at most 64 characters. */
export function safeCode(value: unknown): string | undefined {
  return typeof value === 'string' && /^[\w.-]{1,64}$/.test(value) ? value : undefined;
}

/** Statuses that mean "try again later" rather than "this request is wrong". */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429;
}
