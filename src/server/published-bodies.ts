/**
 * Discovery and the JWKS change only when the provider is rebuilt (new signing keys:
 * `scheduleKeyReload` in src/server/bridge.ts swaps the provider). The first GET of each is
 * answered by oidc-provider itself and its bytes and headers are kept; later GETs get those bytes
 * with an ETag (and a 304 for a matching If-None-Match) without entering the engine. A new provider
 * starts with an empty cache, so the bodies are recomputed when the keys rotate.
 *
 * oidc-provider builds discovery's URLs from the request's scheme and Host (`urlFor` in
 * https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/oidc_context.js), and its
 * CORS answer echoes Origin (lib/shared/cors.js there): entries are kept per Host, a bounded
 * number of them, and a request with an Origin always goes to the engine.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Paths, relative to the issuer, whose GET answers are kept. */
export const PUBLISHED_PATHS: ReadonlySet<string> = new Set(['/.well-known/openid-configuration', '/jwks']);

/** Headers of the engine's answer worth repeating (the dispatcher sets the security headers and the id itself). */
const KEPT_HEADERS = ['content-type', 'cache-control', 'vary', 'access-control-allow-origin'];

/** Hosts a client can make up: past this many entries new ones are not kept (the engine answers them). */
const MAX_ENTRIES = 32;

interface Entry {
  body: Buffer;
  etag: string;
  headers: [string, string][];
}

export interface PublishedBodies {
  /**
   * Answers a GET of a published path from the cache (true), or arranges for the engine's answer
   * to be kept and returns false (the caller then hands the request to the engine).
   */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

export function publishedBodies(): PublishedBodies {
  const entries = new Map<string, Entry>();

  function keep(key: string, res: ServerResponse, chunk: unknown): void {
    if (res.statusCode !== 200 || entries.size >= MAX_ENTRIES) return;
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk)) return;
    const body = Buffer.from(chunk);
    const headers: [string, string][] = [];
    for (const name of KEPT_HEADERS) {
      const value = res.getHeader(name);
      if (typeof value === 'string') headers.push([name, value]);
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    entries.set(key, { body, etag, headers });
  }

  return {
    serve(req, res, path) {
      if (req.method !== 'GET' || req.headers.origin !== undefined) return false;
      const key = `${path} ${req.headers.host ?? ''}`;
      const entry = entries.get(key);
      if (!entry) {
        // Koa ends a JSON or string body with one `res.end(body)` call.
        const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
        res.end = ((...args: unknown[]) => {
          keep(key, res, args[0]);
          return end(...args);
        }) as ServerResponse['end'];
        return false;
      }
      for (const [name, value] of entry.headers) res.setHeader(name, value);
      res.setHeader('ETag', entry.etag);
      if (matches(req.headers['if-none-match'], entry.etag)) {
        res.statusCode = 304;
        res.end();
      } else {
        res.statusCode = 200;
        res.setHeader('Content-Length', entry.body.length);
        res.end(entry.body);
      }
      return true;
    },
  };
}
