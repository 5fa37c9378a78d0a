import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { requestIds } from '../../src/server/request-id.js';
import { listen, type Listening } from '../../src/server/listen.js';

describe('request ids', () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  let server: Listening;
  before(async () => {
    const app = express();
    app.use(requestIds());
    app.get('/', async (_req, res) => {
      await new Promise((resolve) => setImmediate(resolve));
      log.info('deep inside the request');
      res.send('ok');
    });
    server = await listen(app, { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  it('echoes a safe X-Request-Id and tags the log lines of the request with it', async () => {
    const res = await fetch(server.url, { headers: { 'x-request-id': 'edge-1234.abc' } });
    assert.equal(res.headers.get('x-request-id'), 'edge-1234.abc');
    assert.equal(lines.at(-1)?.reqId, 'edge-1234.abc');
  });

  it('replaces a hostile one with a fresh UUID', async () => {
    const res = await fetch(server.url, { headers: { 'x-request-id': 'x"><script>'.repeat(10) } });
    const id = res.headers.get('x-request-id')!;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(lines.at(-1)?.reqId, id);
  });

  it('leaves log lines outside any request untagged', () => {
    log.info('outside');
    assert.equal(lines.at(-1)?.reqId, undefined);
  });
});
