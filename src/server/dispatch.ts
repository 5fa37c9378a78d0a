/**
 * The issuer's request listener (docs/architecture.md, "Decisions": the engine's routes bypass
 * express). Every request gets its id, the log context and the security headers here, in plain
 * node; then the steps before the engine run; then oidc-provider's own routes go straight to the
 * provider's callback, and everything else (interactions, upstream callbacks, health, extra routes,
 * error pages, and any engine path not listed below) to the express app, which still mounts the
 * provider last. Express in front of the engine cost more than half of the engine's throughput on
 * the endpoints that do little (bench/RESULTS.md).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import { requestContext } from '../log.js';
import { assignRequestId } from './request-id.js';

/**
 * A step before the engine: plain node request and response; returns (or resolves to) true when
 * it answered the request itself (e.g. 429 from a rate limit), false to let it through. Steps run
 * in order for EVERY request (the engine's routes and express's, e.g. `/upstream/:id/callback`),
 * after the request id, log context and security headers are set and before anything else reads
 * the request: each step picks its paths from `req.url` (the full path, issuer prefix included)
 * and may read the trusted client address with `clientAddressOf(req)`. A step that throws gets a
 * 500 `server_error` (logged), never a stack.
 */
export type BeforeEngineStep = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** oidc-provider's routes (its default `routes`), relative to the issuer, that the dispatcher hands to it directly. */
const ENGINE_PATHS: ReadonlySet<string> = new Set([
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/auth',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/jwks',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/device',
  '/device/auth',
]);
/** `/auth/:uid` (resume) and `/device/:uid`: one more segment under these. */
const ENGINE_PARENTS = ['/auth/', '/device/'];

function isEnginePath(path: string): boolean {
  if (ENGINE_PATHS.has(path)) return true;
  for (const parent of ENGINE_PARENTS) {
    if (path.startsWith(parent) && path.length > parent.length && !path.includes('/', parent.length)) return true;
  }
  return false;
}

type Trust = (address: string, hop: number) => boolean;
const trustOf = new WeakMap<IncomingMessage, Trust>();
const addressOf = new WeakMap<IncomingMessage, string | undefined>();

/**
 * The client's address as `trust proxy` decides it: the same function express's `req.ip` uses
 * (https://github.com/jshttp/proxy-addr, with the trust function express compiled from config),
 * for code that runs on a plain node request (the steps before the engine).
 */
export function clientAddressOf(req: IncomingMessage): string | undefined {
  if (addressOf.has(req)) return addressOf.get(req);
  const trust = trustOf.get(req);
  const address = trust ? proxyaddr(req, trust) : req.socket.remoteAddress;
  addressOf.set(req, address);
  return address;
}

export interface DispatchOptions {
  /** The issuer's path ('' or e.g. '/sso'). */
  prefix: string;
  /** The express app (bridge routes, error pages, the provider last). */
  express: RequestListener;
  /** express's compiled `trust proxy fn`. */
  trust: Trust;
  /** Sets the security headers on a response. */
  headers: (res: ServerResponse) => void;
  /**
   * The engine, for a request whose url is relative to the issuer; `unmatched` answers what the
   * engine has no route for (a known path with a method it does not serve).
   */
  engine: (
    req: IncomingMessage & { originalUrl?: string },
    res: ServerResponse,
    clientAddress: string | undefined,
    unmatched: () => void,
  ) => void;
  /** Absolute paths of extra routes: never dispatched to the engine, even when they look like its routes. */
  reserved: readonly string[];
  beforeEngine: readonly BeforeEngineStep[];
  log: Logger;
}

/** The engine's route for this url, relative to the issuer, or undefined when express should serve it. */
function engineUrl(url: string, prefix: string, reserved: readonly string[]): string | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (prefix && !(path.startsWith(prefix) && path[prefix.length] === '/')) return undefined;
  if (reserved.some((r) => path === r || path.startsWith(`${r}/`))) return undefined;
  return isEnginePath(path.slice(prefix.length)) ? url.slice(prefix.length) : undefined;
}

function failed(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = 500;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ error: 'server_error', error_description: 'something went wrong' }));
}

export function createDispatcher(options: DispatchOptions): RequestListener {
  const { prefix, reserved, beforeEngine, log } = options;

  function route(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse): void {
    const url = req.url ?? '/';
    const relative = engineUrl(url, prefix, reserved);
    if (relative === undefined) {
      void options.express(req, res);
      return;
    }
    // What express's mount leaves for a handler at the issuer's path; oidc-provider derives its
    // mount path from the difference (urlFor in lib/helpers/oidc_context.js).
    req.originalUrl = url;
    req.url = relative;
    // A method the engine does not serve on this path: express answers it like any unknown route.
    const toExpress = () => {
      req.url = url;
      delete req.originalUrl;
      void options.express(req, res);
    };
    options.engine(req, res, clientAddressOf(req), toExpress);
  }

  async function runSteps(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      for (const step of beforeEngine) if (await step(req, res)) return;
    } catch (err) {
      log.error({ err, method: req.method }, 'a step before the engine failed');
      failed(res);
      return;
    }
    route(req, res);
  }

  return (req, res) => {
    const reqId = assignRequestId(req, res);
    options.headers(res);
    trustOf.set(req, options.trust);
    requestContext.run({ reqId }, () => {
      if (beforeEngine.length === 0) route(req, res);
      else void runSteps(req, res);
    });
  };
}
