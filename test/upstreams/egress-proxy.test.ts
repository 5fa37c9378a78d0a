/**
 * The egress proxy (src/upstreams/egress-proxy.ts): which calls HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY send through a proxy, the values start-up refuses, and the calls themselves through a
 * real forward proxy (test/doubles/egress-proxy.ts): plain http in absolute form, HTTPS through a
 * CONNECT tunnel with the upstream's certificate still verified end to end, credentials, refusals,
 * NO_PROXY hosts going straight out, redirects routed hop by hop, and openid-client (an oidc
 * upstream's client) taking the proxied answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { MAX_UPSTREAM_BODY_BYTES, ResponseTooLargeError } from '../../src/upstreams/capped-fetch.js';
import { EgressProxyError, EgressProxyRefusedError, egressProxyFrom, viaEgressProxy } from '../../src/upstreams/egress-proxy.js';
import { createHttpFetch } from '../../src/upstreams/http-fetch.js';
import { startEgressProxy, type EgressProxyDouble } from '../doubles/egress-proxy.js';
import { startFakeOidcIssuer } from '../doubles/fake-oidc-issuer.js';
import { runProcess } from '../helpers/run-process.js';

const through = (env: NodeJS.ProcessEnv, url: string) => egressProxyFrom(env)?.proxyFor(new URL(url))?.origin;
const urlOf = (input: Parameters<typeof fetch>[0]) => (input instanceof Request ? input.url : input instanceof URL ? input.href : input);

describe('which calls go through the egress proxy', () => {
  it('sets nothing up when no proxy variable is set, or only NO_PROXY', () => {
    assert.equal(egressProxyFrom({}), undefined);
    assert.equal(egressProxyFrom({ NO_PROXY: 'corp.example', HTTPS_PROXY: '  ' }), undefined);
  });

  it('sends https:// calls through HTTPS_PROXY and http:// calls through HTTP_PROXY, each in either spelling', () => {
    const env = { HTTPS_PROXY: 'http://secure-proxy:3128', http_proxy: 'http://plain-proxy:8080' };
    assert.equal(through(env, 'https://api.dingtalk.com/v1.0/oauth2/userAccessToken'), 'http://secure-proxy:3128');
    assert.equal(through(env, 'http://idaas.corp.example/token'), 'http://plain-proxy:8080');
    // As in Go's httpproxy: HTTP_PROXY is not used for https:// (nor the other way round).
    assert.equal(through({ HTTP_PROXY: 'http://plain-proxy:8080' }, 'https://api.dingtalk.com/'), undefined);
    assert.equal(through({ https_proxy: 'http://secure-proxy:3128' }, 'http://idaas.corp.example/'), undefined);
  });

  it('reads a value without a scheme as an http:// proxy, and keeps an https:// proxy', () => {
    assert.equal(through({ HTTPS_PROXY: 'proxy.corp.example:3128' }, 'https://oapi.dingtalk.com/'), 'http://proxy.corp.example:3128');
    assert.equal(through({ HTTPS_PROXY: 'https://proxy.corp.example' }, 'https://oapi.dingtalk.com/'), 'https://proxy.corp.example');
  });

  it('follows NO_PROXY: domains with their subdomains, leading-dot and *. suffixes, ports, addresses and CIDR ranges', () => {
    const env = {
      HTTPS_PROXY: 'http://proxy:3128',
      HTTP_PROXY: 'http://proxy:3128',
      NO_PROXY:
        'corp.example, .svc,*.cluster.local , idaas.example:8443,10.0.0.0/8,192.168.1.7,[fd00::1]:443,fd12::/16,bücher.example,' +
        // Unreadable ranges are ignored (as Go does), never read as /0 (everything).
        '172.16.0.0/,fd00::/,203.0.113.0/0x8,198.51.100.0/8.0',
    };
    const direct = [
      'https://corp.example/',
      'https://sso.corp.example/',
      'https://ks-apiserver.kubesphere-system.svc/',
      'https://grafana.monitoring.svc.cluster.local/',
      'https://idaas.example:8443/token',
      'https://10.43.0.12/jwks',
      'http://192.168.1.7/',
      'https://[fd00::1]/',
      'https://[fd12:3456::9]/',
      'https://API.CORP.EXAMPLE/',
      'https://bücher.example/', // in punycode in the URL
      'https://shop.xn--bcher-kva.example/',
    ];
    const proxied = [
      'https://api.dingtalk.com/',
      'https://notcorp.example/', // a suffix match is on a dot boundary
      'https://svc/', // `.svc` is only the hosts under it
      'https://cluster.local/', // `*.cluster.local` likewise
      'https://idaas.example/token', // another port than the entry's
      'https://11.0.0.1/',
      'http://192.168.1.8/',
      'https://[fd00::1]:8443/',
      'https://[fd13::1]/',
      'https://172.16.0.1/',
      'https://[fd00::2]/',
      'https://203.0.113.9/',
      'https://198.51.100.1/',
    ];
    for (const url of direct) assert.equal(through(env, url), undefined, `${url} goes direct`);
    for (const url of proxied) assert.equal(through(env, url), 'http://proxy:3128', `${url} goes through the proxy`);
  });

  it('sends nothing through the proxy under NO_PROXY=*, and never localhost or loopback addresses', () => {
    assert.equal(through({ HTTPS_PROXY: 'http://proxy:3128', no_proxy: '*' }, 'https://api.dingtalk.com/'), undefined);
    for (const url of [
      'http://localhost:8080/',
      'http://127.0.0.1/',
      'http://127.8.9.10/',
      'http://[::1]:9000/',
      'http://auth.localhost/',
    ]) {
      assert.equal(through({ HTTP_PROXY: 'http://proxy:3128' }, url), undefined, url);
    }
  });

  it('refuses a value that is not a usable proxy, naming the variable and never the password', () => {
    const refusal = (env: NodeJS.ProcessEnv) => {
      try {
        egressProxyFrom(env);
      } catch (err) {
        assert.ok(err instanceof EgressProxyError);
        return err.message;
      }
      return assert.fail('accepted');
    };
    assert.match(refusal({ HTTPS_PROXY: 'http://user:s3cret-pw@' }), /^HTTPS_PROXY is not a proxy URL/);
    assert.doesNotMatch(refusal({ HTTPS_PROXY: 'http://user:s3cret-pw@' }), /s3cret/);
    assert.match(refusal({ HTTP_PROXY: 'socks5://proxy:1080' }), /^HTTP_PROXY: socks5:\/\/ proxies are not supported/);
    assert.match(
      refusal({ HTTPS_PROXY: 'http://user:50%zz-s3cret@proxy:3128' }),
      /^HTTPS_PROXY: the user or password .* not valid percent-encoding/,
    );
    assert.doesNotMatch(refusal({ HTTPS_PROXY: 'http://user:50%zz-s3cret@proxy:3128' }), /s3cret/);
    assert.match(
      refusal({ HTTPS_PROXY: 'http://a:3128', https_proxy: 'http://b:3128' }),
      /^HTTPS_PROXY and https_proxy are both set, to different values/,
    );
    assert.match(refusal({ HTTPS_PROXY: 'http://a:3128', NO_PROXY: 'x', no_proxy: 'y' }), /^NO_PROXY and no_proxy/);
    // The same value in both spellings is no conflict.
    assert.ok(egressProxyFrom({ HTTPS_PROXY: 'http://a:3128', https_proxy: 'http://a:3128' }));
  });

  it('describes itself without credentials', () => {
    const egress = egressProxyFrom({ HTTPS_PROXY: 'http://egress:s3cret-pw@proxy:3128', NO_PROXY: '.svc' })!;
    assert.deepEqual(egress.described, { https: 'http://***@proxy:3128', noProxy: '.svc' });
    assert.equal(egress.summary, 'https:// calls through http://***@proxy:3128; http:// calls direct; except NO_PROXY (.svc)');
    const proxy = egress.proxyFor(new URL('https://api.dingtalk.com/'))!;
    assert.deepEqual(proxy, {
      origin: 'http://proxy:3128',
      shown: 'http://***@proxy:3128',
      authorization: `Basic ${Buffer.from('egress:s3cret-pw').toString('base64')}`,
    });
  });
});

describe('calls through a real egress proxy', () => {
  let proxy: EgressProxyDouble;
  let upstream: Server;
  let port: number;
  /** What the upstream saw: its Host header and the request line's target. */
  const arrivals: { host?: string; path?: string; body: string }[] = [];
  const servers: (Server | HttpsServer)[] = [];

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      arrivals.push({ ...(req.headers.host ? { host: req.headers.host } : {}), ...(req.url ? { path: req.url } : {}), body });
      if (req.url === '/big')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('x'.repeat(MAX_UPSTREAM_BODY_BYTES + 1));
      if (req.url === '/declared-big') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_UPSTREAM_BODY_BYTES + 1) });
        return void res.write('{');
      }
      if (req.url === '/headers') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
      if (req.url === '/slow') return; // never answers
      if (req.url?.startsWith('/moved?to=')) {
        return void res.writeHead(302, { location: new URL(req.url, 'http://x').searchParams.get('to')! }).end();
      }
      if (req.url === '/empty') return void res.writeHead(204).end();
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' }).end(JSON.stringify({ method: req.method, body }));
    });
  };

  before(async () => {
    proxy = await startEgressProxy();
    upstream = createServer(answer);
    servers.push(upstream);
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    port = (upstream.address() as AddressInfo).port;
  });
  after(async () => {
    await proxy.close();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  const fetchVia = (env: NodeJS.ProcessEnv) => createHttpFetch({ egress: egressProxyFrom(env) ?? null });

  it('forwards a plain-http call in absolute form, to a name only the proxy resolves', async () => {
    proxy.seen.length = 0;
    const fetch = fetchVia({ HTTP_PROXY: proxy.url });
    const response = await fetch(`http://idaas.corp.test:${port}/oauth/token?x=1`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code' }),
      redirect: 'manual',
    });
    assert.equal(response.status, 200);
    assert.ok(response instanceof Response, "this process's Response, as openid-client and the error pages expect");
    assert.equal(response.url, `http://idaas.corp.test:${port}/oauth/token?x=1`);
    assert.equal(response.headers.get('x-upstream'), 'yes');
    assert.deepEqual(await response.json(), { method: 'POST', body: 'grant_type=authorization_code' });
    assert.deepEqual(proxy.seen, [{ method: 'POST', target: `http://idaas.corp.test:${port}/oauth/token?x=1` }]);
    assert.equal(arrivals.at(-1)?.host, `idaas.corp.test:${port}`);
  });

  it('sends the credentials of the proxy URL as Proxy-Authorization, and a 407 is a clear failure that hides them', async () => {
    proxy.requireCredentials('egress', 'pä ss');
    try {
      const good = fetchVia({ HTTP_PROXY: proxy.url.replace('http://', 'http://egress:p%C3%A4%20ss@') });
      assert.equal((await good(`http://api.corp.test:${port}/`, { redirect: 'manual' })).status, 200);
      assert.equal(proxy.seen.at(-1)?.authorization, `Basic ${Buffer.from('egress:pä ss').toString('base64')}`);

      for (const scheme of ['http', 'https'] as const) {
        const bad = fetchVia({ [`${scheme.toUpperCase()}_PROXY`]: proxy.url.replace('http://', 'http://egress:wrong-pw@') });
        const err = await bad(`${scheme}://api.corp.test:${port}/`, { redirect: 'manual' }).then(
          () => assert.fail(`a refused ${scheme} call resolved`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof TypeError, 'rejects as fetch does on a network failure');
        assert.ok(err.cause instanceof EgressProxyRefusedError, `${scheme}: ${String(err.cause)}`);
        assert.equal(err.cause.status, 407);
        assert.match(err.cause.message, /asked for credentials \(407\)/);
        assert.doesNotMatch(err.cause.message, /wrong-pw/);
        assert.match(err.cause.message, /http:\/\/\*\*\*@127\.0\.0\.1:\d+/);
      }
    } finally {
      proxy.requireCredentials(undefined);
    }
  });

  it('tunnels an https:// call with CONNECT, and TLS still ends at the upstream: its certificate is checked', async () => {
    const tls = await httpsUpstream();
    proxy.seen.length = 0;
    const fetch = fetchVia({ HTTPS_PROXY: proxy.url });
    const err = await fetch(`https://dingtalk-api.test:${tls.port}/v1.0/oauth2/accessToken`, { redirect: 'manual' }).then(
      () => assert.fail('an untrusted certificate was accepted through the tunnel'),
      (e: unknown) => e,
    );
    assert.deepEqual(proxy.seen, [{ method: 'CONNECT', target: `dingtalk-api.test:${tls.port}` }]);
    assert.ok(err instanceof TypeError);
    assert.match(String((err.cause as Error)?.message ?? err.cause), /self[- ]signed/i);
  });

  it('speaks TLS to an https:// proxy, trusting its certificate as any other (NODE_EXTRA_CA_CERTS)', async () => {
    const tls = await httpsUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-egress-proxy-tls-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'proxy.key'), '-out', join(dir, 'proxy.crt')],
      ],
      { stdio: 'ignore' },
    );
    const secureProxy = await startEgressProxy({
      tls: { key: readFileSync(join(dir, 'proxy.key')), cert: readFileSync(join(dir, 'proxy.crt')) },
    });
    after(() => secureProxy.close());
    assert.match(secureProxy.url, /^https:\/\//);
    const bundle = join(dir, 'trusted.crt');
    writeFileSync(bundle, readFileSync(join(dir, 'proxy.crt'), 'utf8') + readFileSync(tls.certFile, 'utf8'));
    const client = new URL('../../src/upstreams/http-fetch.ts', import.meta.url).href;
    const target = `https://dingtalk-api.test:${tls.port}/v1.0/contact/users/me`;
    const script =
      `const { httpFetch } = await import(${JSON.stringify(client)});` +
      `const r = await httpFetch(${JSON.stringify(target)}); process.stdout.write(r.status + ' ' + (await r.text()));` +
      'process.exit(0);';
    const run = (trusted: string) =>
      runProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...withoutProxyVariables(process.env), NODE_EXTRA_CA_CERTS: trusted, HTTPS_PROXY: secureProxy.url },
      });
    const trusting = await run(bundle);
    assert.equal(trusting.code, 0, trusting.stderr);
    assert.equal(trusting.stdout, '200 {"ok":"tls"}');
    assert.deepEqual(secureProxy.seen, [{ method: 'CONNECT', target: `dingtalk-api.test:${tls.port}` }]);
    // Without the proxy's CA the call fails: the proxy's certificate is checked, never skipped.
    const distrusting = await run(tls.certFile);
    assert.notEqual(distrusting.code, 0);
    assert.match(distrusting.stderr, /self[- ]signed certificate/i);
    assert.equal(secureProxy.seen.length, 1, 'nothing was sent to an untrusted proxy');
  });

  it('carries https:// calls through kept-alive tunnels to a certificate the process trusts (NODE_EXTRA_CA_CERTS)', async () => {
    const tls = await httpsUpstream();
    const tunnelsBefore = proxy.tunnels;
    const client = new URL('../../src/upstreams/http-fetch.ts', import.meta.url).href;
    const target = `https://dingtalk-api.test:${tls.port}/v1.0/contact/users/me`;
    const script =
      `const { httpFetch } = await import(${JSON.stringify(client)});` +
      `for (let i = 0; i < 6; i += 1) { const r = await httpFetch(${JSON.stringify(target)}, { redirect: 'manual' }); process.stdout.write(r.status + ' ' + (await r.text()) + '\\n'); }` +
      'process.exit(0);';
    const run = await runProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...withoutProxyVariables(process.env), NODE_EXTRA_CA_CERTS: tls.certFile, https_proxy: proxy.url, NO_PROXY: 'other.test' },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), Array(6).fill('200 {"ok":"tls"}'));
    // undici (directly too, without a proxy) opens a second connection once, after the first
    // HTTPS answer; every call after that reuses a kept-alive one.
    assert.ok(proxy.tunnels - tunnelsBefore <= 2, `six calls, ${proxy.tunnels - tunnelsBefore} tunnels`);
    assert.equal(tls.handshakes(), proxy.tunnels - tunnelsBefore, 'one TLS handshake with the upstream per tunnel');
  });

  it('sends NO_PROXY hosts straight out, and the proxy never hears of them', async () => {
    proxy.seen.length = 0;
    const wentDirect: string[] = [];
    const fetch = viaEgressProxy(
      (input) => {
        wentDirect.push(urlOf(input));
        return Promise.resolve(new Response('direct'));
      },
      () => egressProxyFrom({ HTTP_PROXY: proxy.url, NO_PROXY: `idaas.corp.test,keys.corp.test:${port + 1}` }),
    );
    assert.equal(await (await fetch(`http://sso.idaas.corp.test:${port}/token`)).text(), 'direct');
    assert.deepEqual(wentDirect, [`http://sso.idaas.corp.test:${port}/token`]);
    assert.deepEqual(proxy.seen, []);
    // An entry for another port does not apply.
    assert.equal((await fetch(`http://keys.corp.test:${port}/`)).status, 200);
    assert.equal(wentDirect.length, 1);
    assert.equal(proxy.seen.length, 1);
  });

  it('routes each hop of a followed redirect by its own URL, and follows none unless asked', async () => {
    const hops: string[] = [];
    const direct: typeof fetch = (input, init) => {
      hops.push(`direct ${urlOf(input)} ${init?.redirect}`);
      return Promise.resolve(new Response('{"keys":[]}', { status: 200 }));
    };
    const fetch = viaEgressProxy(direct, () => egressProxyFrom({ HTTP_PROXY: proxy.url, NO_PROXY: 'internal.test' }));
    const moved = `http://api.corp.test:${port}/moved?to=${encodeURIComponent('http://keys.internal.test/jwks')}`;
    proxy.seen.length = 0;
    // The proxied upstream redirects to a NO_PROXY host: that hop goes direct, not through the proxy.
    const followed = await fetch(moved, { redirect: 'follow' });
    assert.equal(followed.status, 200);
    assert.equal(followed.redirected, true);
    assert.equal(followed.url, 'http://keys.internal.test/jwks');
    assert.deepEqual(hops, ['direct http://keys.internal.test/jwks manual']);
    assert.equal(proxy.seen.length, 1);
    // Without `redirect: 'follow'` the redirect itself is the answer, as on the direct path.
    const manual = await fetch(moved);
    assert.equal(manual.status, 302);
    assert.equal(manual.headers.get('location'), 'http://keys.internal.test/jwks');
    assert.equal(hops.length, 1);
  });

  it('sends its own User-Agent and asks for no compression, as the direct client does', async () => {
    const fetch = fetchVia({ HTTP_PROXY: proxy.url });
    const answer = (await (await fetch(`http://api.corp.test:${port}/headers`)).json()) as Record<string, string>;
    assert.equal(answer['user-agent'], 'oidc-bridge');
    assert.equal(answer['accept-encoding'], 'identity');
  });

  it("rejects with the signal's reason through the proxy too", async () => {
    const fetch = fetchVia({ HTTP_PROXY: proxy.url });
    const err = await fetch(`http://api.corp.test:${port}/slow`, { signal: AbortSignal.timeout(100) }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.name, 'TimeoutError');
  });

  it('keeps the body cap through the proxy (streamed or declared), and answers a null body with a Response of this process', async () => {
    const fetch = fetchVia({ HTTP_PROXY: proxy.url });
    const big = await fetch(`http://api.corp.test:${port}/big`, { redirect: 'manual' });
    await assert.rejects(big.text(), (err: unknown) => err instanceof ResponseTooLargeError);
    await assert.rejects(fetch(`http://api.corp.test:${port}/declared-big`), (err: unknown) => err instanceof ResponseTooLargeError);
    const empty = await fetch(`http://api.corp.test:${port}/empty`, { redirect: 'manual' });
    assert.equal(empty.status, 204);
    assert.ok(empty instanceof Response);
    assert.equal(empty.body, null);
  });

  it('names the proxy when it refuses a host (403), cannot reach it (502), or is down', async () => {
    proxy.refuseHosts(['blocked.test']);
    try {
      const err = await fetchVia({ HTTPS_PROXY: proxy.url })(`https://blocked.test:${port}/`).then(
        () => assert.fail('resolved'),
        (e: unknown) => e as TypeError,
      );
      assert.ok(err.cause instanceof EgressProxyRefusedError);
      assert.equal(err.cause.status, 403);
      assert.match(err.cause.message, new RegExp(`refused the connection to blocked\\.test:${port} \\(403\\)`));
    } finally {
      proxy.refuseHosts([]);
    }
    // The proxy cannot reach the host (it answers the CONNECT with 502): the host, not the proxy, is named as the problem.
    const unreachable = await fetchVia({ HTTPS_PROXY: proxy.url })('https://api.dingtalk.example/').then(
      () => assert.fail('resolved'),
      (e: unknown) => e as TypeError,
    );
    assert.ok(unreachable.cause instanceof EgressProxyRefusedError);
    assert.equal(unreachable.cause.message, `the egress proxy ${proxy.url} could not reach api.dingtalk.example (502)`);
    // The proxy itself is down: a network failure, its socket error in the cause.
    const down = await fetchVia({ HTTPS_PROXY: 'http://127.0.0.1:9' })(`https://api.corp.test/`).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as TypeError,
    );
    assert.ok(down instanceof TypeError);
    const codes: unknown[] = [];
    for (let e: unknown = down; e instanceof Error; e = e.cause) codes.push((e as NodeJS.ErrnoException).code);
    assert.ok(codes.includes('ECONNREFUSED'), `the socket error is in the cause chain: ${codes.join(', ')}`);
  });

  it("gives openid-client answers it accepts (as an oidc upstream's customFetch): discovery, and an error to parse", async () => {
    const issuer = await startFakeOidcIssuer({ issuerHost: 'idaas.corp.test' });
    try {
      proxy.seen.length = 0;
      const customFetch = fetchVia({ HTTP_PROXY: proxy.url });
      const config = await client.discovery(new URL(issuer.issuer), issuer.clientId, issuer.clientSecret, undefined, {
        execute: [client.allowInsecureRequests],
        [client.customFetch]: customFetch,
      });
      assert.equal(config.serverMetadata().token_endpoint, `${issuer.issuer}/token`);
      const err = await client
        .authorizationCodeGrant(config, new URL(`http://localhost/cb?code=not-a-code`), { expectedState: client.skipStateCheck })
        .then(
          () => assert.fail('a made-up code was accepted'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof client.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
      assert.deepEqual(
        proxy.seen.map((r) => `${r.method} ${new URL(r.target).pathname}`),
        ['GET /.well-known/openid-configuration', 'POST /token'],
      );
    } finally {
      await issuer.close();
    }
  });

  it('takes a Request object through the proxy too (the engine fetch and the fallback may be given one)', async () => {
    const fetch = viaEgressProxy(
      () => Promise.reject(new Error('went direct')),
      () => egressProxyFrom({ HTTP_PROXY: proxy.url }),
    );
    const response = await fetch(new Request(`http://api.corp.test:${port}/`, { method: 'PUT', body: 'hello' }));
    assert.deepEqual(await response.json(), { method: 'PUT', body: 'hello' });
  });

  /** An HTTPS upstream with a fresh self-signed certificate for `dingtalk-api.test`. */
  async function httpsUpstream(): Promise<{ port: number; certFile: string; handshakes: () => number }> {
    const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-egress-tls-'));
    const certFile = join(dir, 'tls.crt');
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=dingtalk-api.test'],
        ...['-addext', 'subjectAltName=DNS:dingtalk-api.test', '-keyout', join(dir, 'tls.key'), '-out', certFile],
      ],
      { stdio: 'ignore' },
    );
    const server = createHttpsServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(certFile) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":"tls"}');
    });
    let handshakes = 0;
    server.on('secureConnection', () => (handshakes += 1));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => rmSync(dir, { recursive: true, force: true }));
    return { port: (server.address() as AddressInfo).port, certFile, handshakes: () => handshakes };
  }
});

function withoutProxyVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names = ['http_proxy', 'https_proxy', 'no_proxy'];
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name.toLowerCase())));
}
