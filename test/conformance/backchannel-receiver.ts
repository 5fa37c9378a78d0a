/**
 * A relying party's backchannel_logout_uri (Back-Channel Logout 1.0 §2.5): a real HTTP server on
 * 127.0.0.1 that records each request and answers 200, as an RP that logged the session out does.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BackchannelRequest {
  method: string;
  contentType: string;
  body: URLSearchParams;
}

export interface BackchannelReceiver {
  url: string;
  /** The next request received (already received ones first). */
  next(): Promise<BackchannelRequest>;
  close(): Promise<void>;
}

export async function startBackchannelReceiver(): Promise<BackchannelReceiver> {
  const received: BackchannelRequest[] = [];
  const waiting: ((request: BackchannelRequest) => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      };
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
      const waiter = waiting.shift();
      if (waiter) waiter(request);
      else received.push(request);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel-logout`,
    next: () => {
      const first = received.shift();
      return first ? Promise.resolve(first) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
