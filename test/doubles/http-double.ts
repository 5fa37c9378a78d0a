/**
 * The plumbing every fake upstream shares: a node:http server on 127.0.0.1, port 0, a route
 * table, form/JSON body parsing, delayed answers that `close()` cancels, and helpers to answer.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withHostile, type HostileRule } from './hostile-answers.js';

export interface DoubleRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed `application/x-www-form-urlencoded` body (empty otherwise). */
  form: URLSearchParams;
  raw: string;
}

export type Route = (req: DoubleRequest, res: ServerResponse) => void | Promise<void>;

export interface HttpDouble {
  url: string;
  /** Waits `ms` unless the double closes first (then the answer is never sent). */
  delay(ms: number): Promise<boolean>;
  /** From now on, requests `rule` picks get its hostile answer (test/doubles/hostile-answers.ts); undefined ends that. */
  setHostile(rule: HostileRule | undefined): void;
  close(): Promise<void>;
}

export async function startHttpDouble(routes: Record<string, Route>): Promise<HttpDouble> {
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: (sent: boolean) => void }>();
  let hostile: HostileRule | undefined;
  const server = createServer(
    withHostile(
      (req, res) => {
        handle(routes, req, res).catch((err: unknown) => {
          if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(err) });
        });
      },
      () => hostile,
    ),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setHostile(rule) {
      hostile = rule;
    },
    delay(ms) {
      return new Promise((resolve) => {
        const entry = {
          timer: setTimeout(() => {
            timers.delete(entry);
            resolve(true);
          }, ms),
          resolve,
        };
        timers.add(entry);
      });
    },
    async close() {
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.resolve(false);
      }
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(routes: Record<string, Route>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://double.invalid');
  const raw = await readBody(req);
  const isForm = /application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '');
  const route = routes[`${req.method} ${url.pathname}`];
  if (!route) return json(res, 404, { error: 'not_found' });
  await route(
    {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      form: new URLSearchParams(isForm ? raw : ''),
      raw,
    },
    res,
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** A 302 to `target` with `params` added to its query: how authorize endpoints answer a browser. */
export function redirect(res: ServerResponse, target: string, params: Record<string, string | undefined>): void {
  const location = new URL(target);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) location.searchParams.set(key, value);
  res.writeHead(302, { location: location.href, 'content-length': '0' });
  res.end();
}

/** Client credentials as the token endpoint received them. */
export interface SeenClientAuth {
  method: 'client_secret_basic' | 'client_secret_post' | 'none';
  clientId?: string;
  clientSecret?: string;
}

/** Reads HTTP Basic (RFC 6749 §2.3.1: form-urlencoded id and secret) or body credentials. */
export function clientAuthOf(req: DoubleRequest): SeenClientAuth {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const decode = (s: string) => new URLSearchParams(`v=${s}`).get('v') ?? '';
    return { method: 'client_secret_basic', clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) };
  }
  if (req.form.has('client_secret')) {
    return {
      method: 'client_secret_post',
      clientId: req.form.get('client_id') ?? undefined,
      clientSecret: req.form.get('client_secret') ?? undefined,
    };
  }
  return { method: 'none', clientId: req.form.get('client_id') ?? undefined };
}

/** RFC 7636 S256: BASE64URL(SHA256(verifier)). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * The client registrations of a fake authorization server, as strict as the DingTalk sandbox
 * (src/sandbox/login-routes.ts): redirect_uri compared exactly with a registered one, never a
 * prefix or an origin. RFC 6749 §4.1.2.1: an unregistered redirect_uri gets an error page, never a
 * redirect.
 */
export interface Registrations {
  /** Registers another exact redirect_uri (e.g. a bridge that only knows its port after listening). */
  addRedirectUri(redirectUri: string): void;
  /** Why this authorization request is refused, or undefined when its client and redirect_uri are registered. */
  refusal(clientId: string | null, redirectUri: string | null): string | undefined;
}

export function registrations(clientId: string, redirectUris: readonly string[] = []): Registrations {
  const registered = new Set<string>();
  const self: Registrations = {
    addRedirectUri(redirectUri) {
      if (!URL.canParse(redirectUri)) throw new TypeError(`not a URL: ${redirectUri}`);
      registered.add(redirectUri);
    },
    refusal(client, redirectUri) {
      if (client !== clientId) return 'unknown client_id';
      if (redirectUri === null || !registered.has(redirectUri)) return 'redirect_uri is not registered for this client';
      return undefined;
    },
  };
  for (const uri of redirectUris) self.addRedirectUri(uri);
  return self;
}
