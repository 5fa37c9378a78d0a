/**
 * The bridge's upstream HTTP client: fetch's signature on `node:http` / `node:https` with
 * keep-alive agents. On Node 20 one small JSON call costs the client about 330 µs of CPU this way
 * against about 950 µs through the global fetch (undici) plus capBodies' TransformStream, and a
 * DingTalk login makes about five such calls (docs/architecture.md, "Decisions").
 *
 * It does what the callers rely on from fetch and no more: never follows a redirect (every caller
 * asks for `redirect: 'manual'`), sends no Accept-Encoding (so nothing to decompress), reads the
 * body under the cap of src/upstreams/capped-fetch.ts before resolving, rejects a network failure
 * with a TypeError whose `cause` is the socket's error and an abort with the signal's reason, as
 * fetch does (https://fetch.spec.whatwg.org/#fetch-method). A Request object or a streamed body
 * goes to the global fetch under capBodies instead, and a call the egress proxy must carry
 * (src/upstreams/egress-proxy.ts) to undici's ProxyAgent.
 */
import http from 'node:http';
import https from 'node:https';
import { capBodies, MAX_UPSTREAM_BODY_BYTES, ResponseTooLargeError } from './capped-fetch.js';
import { processEgressProxy, viaEgressProxy, type EgressProxy } from './egress-proxy.js';

/**
 * Idle keep-alive sockets are closed after this long, as undici's default keepAliveTimeout
 * (https://undici.nodejs.org/#/docs/api/Client). The agent's `timeout` only destroys a socket
 * while it sits in the free list; an active request is bounded by its caller's signal alone
 * (Node's lib/_http_agent.js, `onTimeout`).
 */
const IDLE_SOCKET_MS = 4_000;

/** https://fetch.spec.whatwg.org/#null-body-status */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The errors a kept-alive socket the server already closed gives a request written on it. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Only these are sent again on a new connection (RFC 9110 §9.2.2): a reset does not prove the
 * server never read the request, and a POST may carry a single-use authorization code.
 */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * A call without a signal of its own still ends: every upstream call passes its `timeoutMs`, this
 * only keeps a future caller that forgets from holding a socket forever (undici's default header
 * and body timeouts are 300 s).
 */
const DEFAULT_TIMEOUT_MS = 60_000;

export interface HttpFetchOptions {
  /** Default MAX_UPSTREAM_BODY_BYTES. */
  maxBytes?: number;
  /** Own agents with this idle timeout instead of the shared ones (tests). */
  idleSocketMs?: number;
  /** Default: this process's, from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (src/upstreams/egress-proxy.ts); null for none. */
  egress?: EgressProxy | null;
}

interface Agents {
  http: http.Agent;
  https: https.Agent;
}

function agentsWith(idleSocketMs: number): Agents {
  return {
    http: new http.Agent({ keepAlive: true, timeout: idleSocketMs }),
    https: new https.Agent({ keepAlive: true, timeout: idleSocketMs }),
  };
}

let sharedAgents: Agents | undefined;

interface Prepared {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  signal: AbortSignal;
}

export function createHttpFetch(options: HttpFetchOptions = {}): typeof fetch {
  const maxBytes = options.maxBytes ?? MAX_UPSTREAM_BODY_BYTES;
  const agents = options.idleSocketMs === undefined ? (sharedAgents ??= agentsWith(IDLE_SOCKET_MS)) : agentsWith(options.idleSocketMs);
  const fallback = capBodies(globalThis.fetch, maxBytes);
  const egress = options.egress === undefined ? processEgressProxy : () => options.egress ?? undefined;
  // async: a header fetch refuses (new Headers throws) rejects the call, as with fetch, rather than throwing.
  const direct: typeof fetch = async (input, init) => {
    const prepared = prepare(input, init);
    if (!prepared) return fallback(input, init);
    return send(prepared, agents, maxBytes, true);
  };
  return viaEgressProxy(direct, egress, maxBytes);
}

/** The client every upstream call uses unless a test injects its own fetch. */
export const httpFetch: typeof fetch = createHttpFetch();

/** The request in node:http's terms, or undefined for what only fetch handles. */
function prepare(input: Parameters<typeof fetch>[0], init: RequestInit | undefined): Prepared | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return undefined; // fetch rejects it with its own TypeError
  }
  // fetch refuses credentials in the URL; http.request would send them as Basic auth.
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return undefined;
  // Following redirects (or refusing them) is fetch's job; this client only answers `manual`.
  if (init?.redirect !== undefined && init.redirect !== 'manual') return undefined;
  const headers = new Headers(init?.headers);
  const body = bytesOf(init?.body, headers);
  if (body === null) return undefined;
  if (body) headers.set('content-length', String(body.byteLength));
  if (!headers.has('accept')) headers.set('accept', '*/*');
  if (!headers.has('user-agent')) headers.set('user-agent', 'oidc-bridge');
  return {
    url,
    method: normalizedMethod(init?.method ?? 'GET'),
    headers: Object.fromEntries(headers),
    body,
    signal: init?.signal ?? AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
  };
}

/** https://fetch.spec.whatwg.org/#concept-method-normalize: only these are upper-cased. */
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

function normalizedMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/**
 * The body as bytes, with fetch's Content-Type for it when none is given
 * (https://fetch.spec.whatwg.org/#concept-bodyinit-extract); null for a body type left to fetch.
 */
function bytesOf(body: RequestInit['body'], headers: Headers): Buffer | undefined | null {
  if (body === undefined || body === null) return undefined;
  const contentType = (type: string) => {
    if (!headers.has('content-type')) headers.set('content-type', type);
  };
  if (typeof body === 'string') {
    contentType('text/plain;charset=UTF-8');
    return Buffer.from(body, 'utf8');
  }
  if (body instanceof URLSearchParams) {
    contentType('application/x-www-form-urlencoded;charset=UTF-8');
    return Buffer.from(body.toString(), 'utf8');
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return null;
}

function send(request: Prepared, agents: Agents, maxBytes: number, mayRetry: boolean): Promise<Response> {
  const { url, signal } = request;
  return new Promise<Response>((resolve, reject) => {
    // Rejects (the executor throws) with the reason of a signal that is already aborted.
    signal.throwIfAborted();
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).request(url, {
      method: request.method,
      headers: request.headers,
      agent: secure ? agents.https : agents.http,
    });
    let settled = false;
    let answered = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      finish();
    };
    const fail = (err: Error) => {
      settle(() => reject(err));
      req.destroy();
    };
    function onAbort() {
      // fetch rejects with the reason itself: AbortSignal.timeout's is a DOMException named TimeoutError.
      fail(signal.reason as Error);
    }
    signal.addEventListener('abort', onAbort, { once: true });

    req.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      // The server closed an idle kept-alive socket as this request went out on it: nothing was
      // answered, so it is sent once more on a new connection
      // (https://nodejs.org/api/http.html#requestreusedsocket).
      const idempotent = IDEMPOTENT_METHODS.has(request.method);
      if (mayRetry && idempotent && !answered && req.reusedSocket && err.code && STALE_SOCKET_CODES.has(err.code)) {
        settle(() => resolve(send(request, agents, maxBytes, false)));
        return;
      }
      fail(new TypeError('fetch failed', { cause: err }));
    });

    req.on('response', (res) => {
      answered = true;
      const declared = Number(res.headers['content-length'] ?? Number.NaN);
      // A HEAD answer has no body, whatever its Content-Length says.
      if (declared > maxBytes && request.method !== 'HEAD') return fail(new ResponseTooLargeError(maxBytes));
      const chunks: Buffer[] = [];
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.byteLength;
        if (seen > maxBytes) fail(new ResponseTooLargeError(maxBytes));
        else chunks.push(chunk);
      });
      res.on('error', (err) => fail(new TypeError('terminated', { cause: err })));
      res.on('close', () => {
        if (!res.complete) fail(new TypeError('terminated', { cause: new Error('the connection closed before the body ended') }));
      });
      res.on('end', () => {
        let response: Response;
        try {
          response = responseOf(res, url.href, request.method === 'HEAD' ? undefined : Buffer.concat(chunks, seen));
        } catch (err) {
          // A status or header the Response constructor refuses: fetch fails on it too.
          return fail(new TypeError('fetch failed', { cause: err }));
        }
        settle(() => resolve(response));
      });
    });

    req.end(request.body);
  });
}

function responseOf(res: http.IncomingMessage, url: string, body: Buffer | undefined): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const response = new Response(NULL_BODY_STATUSES.has(status) ? null : (body ?? null), {
    status,
    statusText: res.statusMessage ?? '',
    headers,
  });
  // A constructed Response has no url of its own; openid-client reads it (which endpoint failed).
  Object.defineProperty(response, 'url', { value: url });
  Object.defineProperty(response, 'redirected', { value: false });
  return response;
}
