// The README's promise: `npm start` with no config prints a URL; a person opens it, picks a sample
// employee on the simulated DingTalk page and sees the claims the bridge issued.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';

function startCli(env: NodeJS.ProcessEnv): { child: ChildProcess; url: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['bin/oidc-bridge.js'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Open (http:\/\/\S+\/demo\/)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  return { child, url, output: () => output };
}

describe('demo (npm start without a config)', () => {
  let browser: Browser;
  let cli: ReturnType<typeof startCli>;

  before(async () => {
    cli = startCli({ PORT: '0', NODE_ENV: 'development', OIDC_BRIDGE_CONFIG: '' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await once(cli.child, 'exit');
    }
  });

  it('prints a loud banner and the URL, then signs a sample employee in through the sandbox', async () => {
    const url = await cli.url;
    assert.match(cli.output(), /DEMO MODE/);
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByText('Sign in with oidc-bridge').click();
    await page.waitForURL(/\/_sandbox\/oauth2\/auth\?/);
    const authorize = new URL(page.url());
    assert.equal(authorize.searchParams.get('scope'), 'openid corpid');
    assert.equal(authorize.searchParams.get('prompt'), 'consent');
    await page.locator('button', { hasText: '李娜' }).first().click();
    await page.waitForURL(/\/demo\/callback\?/);
    const heading = await page.locator('h1').innerText();
    assert.match(heading, /^Signed in as /);
    const claims = JSON.parse(await page.locator('pre').first().innerText()) as Record<string, unknown>;
    assert.equal(claims.name, '李娜');
    assert.equal(claims.email_verified, true);
    assert.ok(Array.isArray(claims.groups) && claims.groups.includes('dingtalk:研发中心'));
    assert.equal(claims.dingtalk_corp_id, 'dingsandbox0001');
    assert.match(String(claims.sub), /^[a-z2-7]{52}$/);
    const body = await page.content();
    assert.doesNotMatch(body, /eyJ[A-Za-z0-9_-]{10,}\./, 'no raw token is rendered');
  });

  it('refuses to run without a config in production', async () => {
    const child = spawn(process.execPath, ['bin/oidc-bridge.js', 'serve'], {
      env: { ...process.env, NODE_ENV: 'production', OIDC_BRIDGE_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /no config: NODE_ENV=production needs one/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });
});
