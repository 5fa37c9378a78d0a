/**
 * The upstream HTTP client on node:http (src/upstreams/http-fetch.ts) answers as fetch does where
 * the callers look: status, headers, url, a manual redirect, null bodies, the body-size cap,
 * network failures as TypeErrors, the signal's reason on a timeout; and it keeps connections
 * alive, retrying once on a kept-alive socket the server had already closed. Over HTTPS it
 * refuses a certificate the process does not trust, and trusts a private CA given the way the
 * doctor tells operators to (NODE_EXTRA_CA_CERTS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_UPSTREAM_BODY_BYTES, ResponseTooLargeError } from '../../src/upstreams/capped-fetch.js';
import { createHttpFetch, httpFetch } from '../../src/upstreams/http-fetch.js';
import { answerHostile } from '../doubles/hostile-answers.js';
import { runProcess } from '../helpers/run-process.js';

interface Served {
  url: string;
  server: Server;
  /** Connections the server accepted. */
  connections: Socket[];
  /** Requests the server received. */
  requests: number;
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse, served: Served) => void): Promise<Served> {
  const served: Served = { url: '', server: createServer(), connections: [], requests: 0 };
  const listener: RequestListener = (req, res) => {
    served.requests += 1;
    handler(req, res, served);
  };
  served.server.on('request', listener);
  served.server.on('connection', (socket: Socket) => served.connections.push(socket));
  servers.push(served.server);
  served.server.listen(0, '127.0.0.1');
  await once(served.server, 'listening');
  served.url = `http://127.0.0.1:${(served.server.address() as AddressInfo).port}`;
  return served;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Echoes what the client sent, as JSON. */
const echo = (req: IncomingMessage, res: ServerResponse) =>
  void bodyOf(req).then((body) => {
    res.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-seen': 'yes' });
    res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
  });

const SHORT = 150;

/** A server whose second request on each connection meets a socket it has just dropped (a stale keep-alive socket). */
function dropsSecondRequestOfEachConnection() {
  const perSocket = new WeakMap<Socket, number>();
  return (req: IncomingMessage, res: ServerResponse) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n === 2) return void req.socket.destroy();
    echo(req, res);
  };
}

/** Resolves when the socket closes; unlike events.once, a reset on the way is no failure. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

describe('the node:http upstream client', () => {
  it('sends JSON and resolves with status, headers, url and the body', async () => {
    const { url } = await serve(echo);
    const response = await httpFetch(`${url}/json?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', Authorization: 'Bearer t' },
      body: JSON.stringify({ hello: 'world' }),
      redirect: 'manual',
    });
    assert.equal(response.status, 201);
    assert.equal(response.statusText, 'Made');
    assert.equal(response.ok, true);
    assert.equal(response.url, `${url}/json?x=1`);
    assert.equal(response.redirected, false);
    assert.equal(response.headers.get('x-seen'), 'yes');
    const got = (await response.json()) as { method: string; headers: Record<string, string>; body: string };
    assert.equal(got.method, 'POST');
    assert.deepEqual(JSON.parse(got.body), { hello: 'world' });
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['content-length'], String(Buffer.byteLength(got.body)));
    assert.equal(got.headers.authorization, 'Bearer t');
    assert.equal(got.headers.accept, '*/*');
    assert.equal(got.headers['user-agent'], 'oidc-bridge');
    assert.equal(got.headers['accept-encoding'], undefined);
  });

  it("gives a form body fetch's content type, and a string body text/plain", async () => {
    const { url } = await serve(echo);
    const form = await httpFetch(url, { method: 'POST', body: new URLSearchParams({ code: 'a b', grant_type: 'authorization_code' }) });
    const sent = (await form.json()) as { headers: Record<string, string>; body: string };
    assert.equal(sent.headers['content-type'], 'application/x-www-form-urlencoded;charset=UTF-8');
    assert.equal(sent.body, 'code=a+b&grant_type=authorization_code');
    const text = await httpFetch(url, { method: 'POST', body: 'héllo', headers: [['accept', 'application/json']] });
    const got = (await text.json()) as { headers: Record<string, string>; body: string };
    assert.equal(got.headers['content-type'], 'text/plain;charset=UTF-8');
    assert.equal(got.headers.accept, 'application/json');
    assert.equal(got.body, 'héllo');
  });

  it('returns a redirect as it is, without following it', async () => {
    const served = await serve((req, res) => {
      if (req.url === '/target') return void res.end('followed');
      answerHostile(res, { kind: 'redirect', status: 302, location: '/target' });
    });
    const response = await httpFetch(`${served.url}/start`, { redirect: 'manual' });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), '/target');
    assert.equal(served.requests, 1);
  });

  it('gives a 204 and a HEAD a null body', async () => {
    const methods: (string | undefined)[] = [];
    const { url } = await serve((req, res) => {
      methods.push(req.method);
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': '42' }).end();
      res.writeHead(204).end();
    });
    const empty = await httpFetch(url, { method: 'delete' });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    const head = await httpFetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    // Method names are normalised as fetch does it.
    assert.deepEqual(methods, ['DELETE', 'HEAD']);
  });

  for (const declared of [true, false]) {
    it(`refuses a ${declared ? 'declared' : 'chunked'} body past the cap and hangs up`, async () => {
      const bytes = 16 * MAX_UPSTREAM_BODY_BYTES;
      let written = -1;
      const served = await serve((_req, res) => {
        const socket = res.socket!;
        socket.once('close', () => (written = socket.bytesWritten));
        answerHostile(res, { kind: 'huge', bytes, declared, contentType: 'application/json' });
      });
      await assert.rejects(httpFetch(served.url), (err: unknown) => err instanceof ResponseTooLargeError);
      const [socket] = served.connections;
      if (written < 0) await closed(socket!);
      assert.ok(written < bytes / 2, `the server wrote ${written} of ${bytes} bytes`);
    });
  }

  it('reads a body at the cap, and honours a smaller cap', async () => {
    const { url } = await serve((_req, res) => res.end(Buffer.alloc(1000, 'x')));
    assert.equal((await createHttpFetch({ maxBytes: 1000 })(url).then((r) => r.arrayBuffer())).byteLength, 1000);
    await assert.rejects(createHttpFetch({ maxBytes: 999 })(url), ResponseTooLargeError);
  });

  it('rejects a refused connection with a TypeError caused by the socket error', async () => {
    const { url, server } = await serve(echo);
    server.close();
    await once(server, 'close');
    await assert.rejects(httpFetch(url), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
      return true;
    });
  });

  it("rejects with the signal's reason while the headers are late", async () => {
    const { url } = await serve(() => undefined);
    await assert.rejects(httpFetch(url, { signal: AbortSignal.timeout(SHORT) }), (err: unknown) => {
      assert.equal((err as Error).name, 'TimeoutError');
      return true;
    });
  });

  it("rejects with the signal's reason while the body trickles", async () => {
    const served = await serve((_req, res) =>
      answerHostile(res, { kind: 'drip', status: 200, everyMs: 20, contentType: 'application/json' }),
    );
    await assert.rejects(httpFetch(served.url, { signal: AbortSignal.timeout(SHORT) }), (err: unknown) => {
      assert.equal((err as Error).name, 'TimeoutError');
      return true;
    });
    // The request was torn down, not left dripping.
    await closed(served.connections[0]!);
  });

  it('rejects at once on an already aborted signal, sending nothing', async () => {
    const served = await serve(echo);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(httpFetch(served.url, { signal: controller.signal }), (err: unknown) => {
      assert.equal((err as Error).name, 'AbortError');
      return true;
    });
    assert.equal(served.connections.length, 0);
  });

  it('keeps the connection alive between calls', async () => {
    const served = await serve(echo);
    await (await httpFetch(served.url)).text();
    await (await httpFetch(served.url, { method: 'POST', body: '{}' })).text();
    assert.equal(served.requests, 2);
    assert.equal(served.connections.length, 1);
  });

  it('closes idle sockets after its idle timeout but lets a slow answer finish', async () => {
    const served = await serve((_req, res) => void setTimeout(() => res.end('late'), SHORT * 2));
    const fetchWithShortIdle = createHttpFetch({ idleSocketMs: SHORT });
    assert.equal(await (await fetchWithShortIdle(served.url)).text(), 'late');
    // Idle now: the client closes it.
    await closed(served.connections[0]!);
    assert.equal(served.connections.length, 1);
  });

  it('sends again on a new connection when a kept-alive socket turns out closed', async () => {
    const served = await serve(dropsSecondRequestOfEachConnection());
    await (await httpFetch(served.url)).text();
    const response = await httpFetch(`${served.url}/again`, { method: 'PUT', body: 'again' });
    assert.equal(((await response.json()) as { body: string }).body, 'again');
    assert.equal(served.requests, 3);
    assert.equal(served.connections.length, 2);
  });

  it('never sends a POST twice: it may carry a single-use code the server already read', async () => {
    const served = await serve(dropsSecondRequestOfEachConnection());
    await (await httpFetch(served.url)).text();
    await assert.rejects(httpFetch(served.url, { method: 'POST', body: 'code=once' }), TypeError);
    assert.equal(served.requests, 2, 'the POST went out once');
  });

  it('leaves a redirect to follow (or to refuse) to fetch', async () => {
    const served = await serve((req, res) => {
      if (req.url === '/moved') return void res.writeHead(302, { location: '/there' }).end();
      echo(req, res);
    });
    const followed = await httpFetch(`${served.url}/moved`, { redirect: 'follow' });
    assert.equal(followed.status, 201);
    assert.equal(followed.redirected, true);
    const manual = await httpFetch(`${served.url}/moved`, { redirect: 'manual' });
    assert.equal(manual.status, 302);
  });

  it('does not send again when a fresh connection fails', async () => {
    const served = await serve((req) => void req.socket.destroy());
    await assert.rejects(createHttpFetch()(served.url), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNRESET');
      return true;
    });
    assert.equal(served.requests, 1);
  });

  it('rejects, rather than throws, on a header fetch refuses', async () => {
    const { url } = await serve(echo);
    const call = httpFetch(url, { headers: { 'x-bad': 'line\nbreak' } });
    await assert.rejects(call, TypeError);
  });

  it('leaves a Request object to fetch', async () => {
    const { url } = await serve(echo);
    const response = await httpFetch(new Request(url, { method: 'POST', body: 'via fetch' }));
    assert.equal(response.status, 201);
    assert.equal(((await response.json()) as { body: string }).body, 'via fetch');
  });
});

describe('the node:http upstream client over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-http-fetch-tls-'));
  const certFile = join(dir, 'tls.crt');
  let server: HttpsServer;
  let url: string;
  /** TLS handshakes the server completed. */
  let handshakes = 0;
  before(async () => {
    // A self-signed certificate: what a private CA looks like to a process that was not given it.
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', certFile],
      ],
      { stdio: 'ignore' },
    );
    server = createHttpsServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(certFile) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    server.on('secureConnection', () => (handshakes += 1));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server?.closeAllConnections();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a certificate this process does not trust, as fetch does', async () => {
    const err = await httpFetch(url).then(
      () => assert.fail('a self-signed certificate was accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TypeError);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('trusts a private CA given in NODE_EXTRA_CA_CERTS, and keeps the TLS connection alive between calls', async () => {
    const handshakesBefore = handshakes;
    const client = new URL('../../src/upstreams/http-fetch.ts', import.meta.url).href;
    const script =
      `const { httpFetch } = await import(${JSON.stringify(client)});` +
      `for (let i = 0; i < 3; i += 1) { const r = await httpFetch(${JSON.stringify(url)}); process.stdout.write(r.status + ' ' + (await r.text()) + '\\n'); }` +
      'process.exit(0);';
    const run = await runProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), Array(3).fill('200 {"ok":true}'));
    assert.equal(handshakes - handshakesBefore, 1, 'three calls, one TLS handshake');
  });
});
