/**
 * Upstream answers are read under a body-size cap (src/upstreams/capped-fetch.ts): a huge body,
 * declared or chunked, fails the call as soon as it passes the cap, without being read whole, and
 * each caller reports it as its own kind of failure; an answer under the cap reads as before.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { capBodies, MAX_UPSTREAM_BODY_BYTES } from '../../src/upstreams/capped-fetch.js';
import { createClient, DingTalkCallError } from '../../src/upstreams/dingtalk/client.js';
import { fetchJson } from '../../src/upstreams/fetch-json.js';
import { UpstreamError } from '../../src/upstreams/types.js';
import { answerHostile } from '../doubles/hostile-answers.js';

const HUGE = 16 * MAX_UPSTREAM_BODY_BYTES;

describe('the upstream body-size cap', () => {
  let server: Server;
  let url: string;
  /** Bytes each huge answer got onto the wire before the client hung up. */
  const written: number[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x.invalid').pathname;
      if (path === '/small') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"ok":true}');
      const start = req.socket.bytesWritten;
      req.socket.once('close', () => written.push(req.socket.bytesWritten - start));
      answerHostile(res, { kind: 'huge', bytes: HUGE, declared: path === '/declared', contentType: 'application/json' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const http = { upstream: 'idp', fetch: capBodies(fetch), timeoutMs: 30_000 };

  for (const path of ['/chunked', '/declared']) {
    it(`a ${path.slice(1)} body past the cap is an 'unavailable' response_too_large, cut off early`, async () => {
      const before = written.length;
      await assert.rejects(fetchJson(http, 'userinfo endpoint', `${url}${path}`, { method: 'GET' }), (err: unknown) => {
        assert.ok(err instanceof UpstreamError);
        assert.equal(err.reason, 'unavailable');
        assert.equal(err.detail.code, 'response_too_large');
        return true;
      });
      await waitFor(() => written.length > before);
      assert.ok(written.at(-1)! < HUGE / 2, `read ${written.at(-1)} of ${HUGE} bytes`);
    });
  }

  it('an answer under the cap reads as before', async () => {
    const got = await fetchJson(http, 'userinfo endpoint', `${url}/small`, { method: 'GET' });
    assert.deepEqual(got.body, { errcode: 0, ok: true });
  });

  it("DingTalk's client reports a huge answer as bad_response and does not retry it", async () => {
    const warnings: Record<string, unknown>[] = [];
    const dingtalk = createClient({
      upstream: 'dingtalk',
      endpoints: { api: url, oapi: url },
      fetch: capBodies(fetch),
      timeoutMs: 30_000,
      log: { info() {}, warn: (obj) => warnings.push(obj) },
    });
    await assert.rejects(dingtalk.oapi({ method: 'POST', path: '/chunked', json: {} }, { retry: true }), (err: unknown) => {
      assert.ok(err instanceof DingTalkCallError);
      assert.equal(err.code, 'bad_response');
      return true;
    });
    assert.equal(warnings.length, 1, 'one attempt, logged once');
    assert.equal(warnings[0]!.retrying, false);
  });
});

/** Waits for the server side to see the connection close (an event, not a timer). */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
