// The express + openid-client application of docs/connect-your-tools.md, run as the page prints it
// (written to a file and started with node, with the documented environment variables), with its
// client entry from the same page, through a whole login at the DingTalk sandbox: the app's /login
// → the bridge → the sandbox → the app's /callback → the signed-in page. Then the bad inputs a real
// app sees (a replayed callback) and its RP-initiated logout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sampleUserids } from '../../src/sandbox/index.js';
import { Browser } from '../helpers/http-browser.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { docClient, snippet } from './doc-snippets.js';

const TMP_DIR = fileURLToPath(new URL('../../.test-tmp/', import.meta.url));

/** A port nobody listens on now (the app needs its redirect URI before it starts). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the documented express + openid-client application', () => {
  let fb: DingTalkBridge;
  let app: ChildProcess | undefined;
  let base: string;
  let file: string;
  let output = '';

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const entry = docClient('express-client', 'reports');
    fb = await startBridge({
      upstream: 'dingtalk',
      store: 'memory',
      clients: [{ ...entry, redirect_uris: [`${base}/callback`], post_logout_redirect_uris: [`${base}/`] }],
    });
    mkdirSync(TMP_DIR, { recursive: true });
    file = `${TMP_DIR}express-app-${randomUUID()}.mjs`;
    writeFileSync(file, snippet('express-app'));
    const child = spawn(process.execPath, [file], {
      env: {
        PATH: process.env.PATH,
        ISSUER: fb.issuer,
        CLIENT_ID: entry.client_id,
        CLIENT_SECRET: entry.client_secret,
        BASE_URL: base,
        PORT: String(port),
        ALLOW_HTTP_ISSUER: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    app = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`listening on ${base}`)) resolve();
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`the app exited (${code}): ${output}`)));
    });
  });
  after(async () => {
    if (app && app.exitCode === null) {
      const exited = new Promise((resolve) => app!.once('exit', resolve));
      app.kill();
      await exited;
    }
    if (file) rmSync(file, { force: true });
    await fb?.close();
  });

  /** /login up to the sandbox page, the person's choice, then everything back to the app. */
  async function signIn(userid: string, browser = new Browser()) {
    const sandboxAuthorize = `${fb.sandboxUrl}/oauth2/auth`;
    const toSandbox = await browser.follow(`${base}/login`, (u) => `${u.origin}${u.pathname}` === sandboxAuthorize);
    assert.equal(
      `${toSandbox.url.origin}${toSandbox.url.pathname}`,
      sandboxAuthorize,
      'the app sent the browser through the bridge to DingTalk',
    );
    const callback = await fb.chooseAtSandbox(
      { clientId: 'reports', browser, redirectUri: `${base}/callback`, state: '', upstreamUrl: toSandbox.url },
      userid,
    );
    const landed = await browser.follow(callback, () => false);
    return { browser, ...landed };
  }

  it('signs 王芳 (平台组) in and shows her sub, username and namespaced groups', async () => {
    const { url, response } = await signIn(sampleUserids.wangFangPlatform);
    assert.equal(`${url.origin}${url.pathname}`, `${base}/`);
    assert.equal(response.status, 200, output);
    const me = (await response.json()) as { sub: string; preferred_username: string; name: string; groups: string[] };
    assert.match(me.sub, /^[a-z2-7]{52}$/);
    assert.equal(me.name, '王芳');
    assert.ok(me.preferred_username);
    assert.ok(me.groups.includes('dingtalk:研发中心/平台组'), me.groups.join());
  });

  it('answers a replayed callback with a page that says what to do, not an error trace', async () => {
    const { browser } = await signIn(sampleUserids.manager);
    const callback = browser.history.find((hop) => hop.url.startsWith(`${base}/callback?`))!;
    assert.ok(callback, 'the login went through the app callback');
    const replay = await browser.fetch(callback.url);
    assert.equal(replay.status, 400);
    const text = await replay.text();
    assert.match(text, /start again at \/login/);
    assert.doesNotMatch(text, /at .*\.m?js:\d+/);
  });

  it('logs out at the bridge with id_token_hint and the registered post_logout_redirect_uri', async () => {
    const { browser } = await signIn(sampleUserids.manager);
    const discovery = (await (await fetch(`${fb.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
    const logout = await browser.fetch(`${base}/logout`);
    assert.equal(logout.status, 302);
    const target = new URL(logout.headers.get('location')!);
    assert.equal(`${target.origin}${target.pathname}`, discovery.end_session_endpoint);
    assert.equal(target.searchParams.get('post_logout_redirect_uri'), `${base}/`);
    assert.ok(target.searchParams.get('id_token_hint'));
    // The bridge accepts it: its logout confirmation page, not an error about the request.
    const page = await browser.fetch(target);
    assert.equal(page.status, 200);
    // The app's own session is gone.
    const home = await browser.fetch(`${base}/`);
    assert.equal(home.status, 302);
    assert.equal(home.headers.get('location'), '/login');
  });
});
