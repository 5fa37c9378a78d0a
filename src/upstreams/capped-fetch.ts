/**
 * The body-size cap on upstream answers: a body larger than MAX_UPSTREAM_BODY_BYTES is refused (a
 * declared Content-Length at once, a streamed or chunked body as soon as it passes the cap) instead
 * of being buffered whole, so a hostile or broken upstream cannot fill the bridge's memory. Time is
 * bounded by each caller's `timeoutMs` signal, which also covers reading the body (docs/security.md,
 * "Upstream answers").
 *
 * The bridge's own upstream client (src/upstreams/http-fetch.ts) applies the cap as it reads;
 * `capBodies` wraps any other fetch: one injected into UpstreamDeps (the tests' doubles), and the
 * global fetch that client falls back to for a Request object or a streamed body.
 */
import { causeChain } from './error-causes.js';

/**
 * 1 MiB: the largest answer any upstream API gives the bridge (a DingTalk user with many
 * departments, a discovery document, a JWKS of a few keys) is a few kilobytes.
 */
export const MAX_UPSTREAM_BODY_BYTES = 1024 * 1024;

/** Raised while reading a body that passes the cap. */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`upstream answer larger than ${maxBytes} bytes`);
  }
}

/** True when `err` or one of its causes is a ResponseTooLargeError. */
export function isTooLarge(err: unknown): boolean {
  for (const e of causeChain(err)) if (e instanceof ResponseTooLargeError) return true;
  return false;
}

export function capBodies(inner: typeof fetch, maxBytes = MAX_UPSTREAM_BODY_BYTES): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const body = response.body;
    if (!body) return response;
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
      await body.cancel().catch(() => undefined);
      throw new ResponseTooLargeError(maxBytes);
    }
    let seen = 0;
    const counted = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > maxBytes) controller.error(new ResponseTooLargeError(maxBytes));
          else controller.enqueue(chunk);
        },
      }),
    );
    const capped = new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
    // openid-client reads `url` (which endpoint failed); a constructed Response has none of its own.
    Object.defineProperty(capped, 'url', { value: response.url });
    Object.defineProperty(capped, 'redirected', { value: response.redirected });
    return capped;
  };
}
