/**
 * The one way the bridge, the demo and the sandbox listen for HTTP. The socket can be bound before
 * the handler exists (`attach` later), so an issuer that names a port chosen by the OS (port 0:
 * tests, the demo) can be built from the bound address.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  server: Server;
  /** http://host:port of the bound socket (127.0.0.1 when bound to every interface). */
  url: string;
  /** Starts handing requests to `handler` (when `listen` was called without one). */
  attach(handler: RequestListener): void;
  /** Stops accepting connections; open ones get `graceMs` (default 10 000) to finish. */
  close(options?: { graceMs?: number }): Promise<void>;
}

function urlOf(address: AddressInfo): string {
  const host =
    address.address === '0.0.0.0'
      ? '127.0.0.1'
      : address.address === '::'
        ? '[::1]'
        : address.family === 'IPv6'
          ? `[${address.address}]`
          : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Listens and resolves once bound; rejects on EADDRINUSE and the like. (express 5's `app.listen`
 * passes its callback as the `error` listener too, so a busy port reaches the callback as an
 * argument and the process runs on without listening: that is why express does not listen here.)
 */
export function listen(handler: RequestListener | undefined, options: { host: string; port: number }): Promise<Listening> {
  const server = createServer();
  if (handler) server.on('request', handler);
  // Longer than the usual 60 s idle timeout of load balancers, so they never reuse a closed socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({
        server,
        url: urlOf(server.address() as AddressInfo),
        attach: (h) => {
          server.on('request', h);
        },
        close: (o) => close(server, o?.graceMs ?? 10_000),
      });
    });
  });
}

function close(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close((err) => {
      clearTimeout(force);
      if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
      else resolve();
    });
    if (graceMs <= 0) server.closeAllConnections();
    else server.closeIdleConnections();
  });
}
