/**
 * An HTTP forward proxy as a corporate egress proxy (Squid, an HTTP CONNECT gateway) behaves:
 * `CONNECT host:port` opens a tunnel (RFC 9110 §9.3.6), an absolute-form request
 * (`GET http://host/path`, RFC 9112 §3.2.2) is forwarded, and it resolves the names itself, so the
 * client needs no DNS for them. Names under `.test` resolve to 127.0.0.1 here and nowhere else
 * (the machine's resolver does not know them: a call that reaches them went through this proxy).
 * It can demand credentials (407), refuse hosts (403) and records every request it handled.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ProxiedRequest {
  /** `CONNECT` or the forwarded method. */
  method: string;
  /** `host:port` of a CONNECT, the absolute URL of a forwarded request. */
  target: string;
  /** The Proxy-Authorization header as sent, if any. */
  authorization?: string;
}

export interface EgressProxyDouble {
  url: string;
  /** Requests it handled, in order (refused ones included). */
  seen: ProxiedRequest[];
  /** Tunnels it opened. */
  tunnels: number;
  /** From now on, ask for `Basic user:password` (undefined: ask for nothing). */
  requireCredentials(user: string | undefined, password?: string): void;
  /** From now on, answer 403 for these host names. */
  refuseHosts(hosts: string[]): void;
  close(): Promise<void>;
}

/** `tls`: listen with this key and certificate, as an `https://` proxy (TLS between client and proxy). */
export async function startEgressProxy(options: { tls?: { key: Buffer; cert: Buffer } } = {}): Promise<EgressProxyDouble> {
  let expected: string | undefined;
  let refused = new Set<string>();
  const sockets = new Set<Socket>();
  const seen: ProxiedRequest[] = [];
  const double: EgressProxyDouble = {
    url: '',
    seen,
    tunnels: 0,
    requireCredentials(user, password = '') {
      expected = user === undefined ? undefined : `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    },
    refuseHosts(hosts) {
      refused = new Set(hosts);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };

  /** The address the proxy connects to for `host`, or the status it answers instead. */
  const resolve = (req: IncomingMessage, host: string): { address: string } | { status: number } => {
    const authorization = req.headers['proxy-authorization'];
    if (expected !== undefined && authorization !== expected) return { status: 407 };
    if (refused.has(host)) return { status: 403 };
    if (host.endsWith('.test') || host === '127.0.0.1') return { address: '127.0.0.1' };
    return { status: 502 }; // nothing else is reachable from a test machine
  };
  const record = (req: IncomingMessage, target: string) =>
    seen.push({
      method: req.method ?? '',
      target,
      ...(req.headers['proxy-authorization'] ? { authorization: req.headers['proxy-authorization'] } : {}),
    });

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const target = URL.parse(req.url ?? '');
    record(req, req.url ?? '');
    if (!target || target.protocol !== 'http:') return void res.writeHead(400).end('absolute-form http:// requests only');
    const outcome = resolve(req, target.hostname);
    if ('status' in outcome) {
      const headers = outcome.status === 407 ? { 'proxy-authenticate': 'Basic realm="egress"' } : {};
      return void res.writeHead(outcome.status, headers).end(`proxy refused: ${outcome.status}`);
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      { host: outcome.address, port: Number(target.port || 80), method: req.method, path: target.pathname + target.search, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end('upstream unreachable')));
    req.pipe(upstream);
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    record(req, req.url ?? '');
    const [host = '', port = '443'] = (req.url ?? '').split(/:(?=\d+$)/);
    const outcome = resolve(req, host);
    if ('status' in outcome) {
      const challenge = outcome.status === 407 ? 'Proxy-Authenticate: Basic realm="egress"\r\n' : '';
      client.end(`HTTP/1.1 ${outcome.status} Refused\r\n${challenge}Content-Length: 0\r\n\r\n`);
      return;
    }
    const upstream = connect(Number(port), outcome.address, () => {
      double.tunnels += 1;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  double.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return double;
}
