import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  server: Server;
  /** http://host:port of the bound socket (127.0.0.1 when bound to every interface). */
  url: string;
  /** Stops accepting connections; open ones get `graceMs` (default 10 000) to finish. */
  close(options?: { graceMs?: number }): Promise<void>;
}

function urlOf(address: AddressInfo): string {
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]'
    : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Listens and resolves once bound; rejects on EADDRINUSE and the like. express 5's `app.listen`
 * passes its callback as the `error` listener too, so a busy port reaches the callback as an
 * argument and the process runs on without listening.
 */
export function listen(app: RequestListener, options: { host: string; port: number }): Promise<Listening> {
  const server = createServer(app);
  // Longer than the usual 60 s idle timeout of load balancers, so they never reuse a closed socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({ server, url: urlOf(server.address() as AddressInfo), close: (o) => close(server, o?.graceMs ?? 10_000) });
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
    server.closeIdleConnections();
  });
}
