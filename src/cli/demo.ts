/**
 * `npm start` without a config (outside production): the bridge on the memory store, the DingTalk
 * sandbox standing in for DingTalk under /_sandbox, and a demo application under /demo. Every
 * redirect is the real one; only DingTalk is simulated.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { createDingTalkSandbox, SANDBOX_APP_COOKIE, SANDBOX_APP_KEY, SANDBOX_APP_SECRET, SANDBOX_CORP_ID } from '../sandbox/index.js';
import { demoRoutes } from '../sandbox/demo-client.js';
import { buildBridge } from '../server/bridge.js';
import { listen } from '../server/listen.js';

/** The demo's config; its signing keys are generated into `keysDir` (a fresh temporary directory). */
export function demoConfig(base: string, keysDir: string): Config {
  const clientSecret = randomBytes(24).toString('base64url');
  return configSchema.parse({
    issuer: base,
    store: { type: 'memory' },
    keys: { dir: keysDir },
    cookieSecrets: [randomBytes(32).toString('base64url')],
    upstreams: [
      {
        id: 'dingtalk',
        type: 'dingtalk',
        displayName: { 'zh-CN': '钉钉（沙箱）', en: 'DingTalk (sandbox)' },
        clientId: SANDBOX_APP_KEY,
        clientSecret: SANDBOX_APP_SECRET,
        corpId: SANDBOX_CORP_ID,
        endpoints: { authorize: `${base}/_sandbox/oauth2/auth`, api: `${base}/_sandbox`, oapi: `${base}/_sandbox` },
        // "Open as in the DingTalk app" on the demo page: the sandbox's stand-in JSAPI (never in production).
        inAppLogin: { standIn: { jsapiUrl: `${base}/_sandbox/jsapi/stand-in.js`, clientCookie: SANDBOX_APP_COOKIE } },
      },
    ],
    clients: [
      {
        client_id: 'demo',
        client_secret: clientSecret,
        client_name: 'Demo application',
        redirect_uris: [`${base}/demo/callback`],
        post_logout_redirect_uris: [`${base}/demo/`],
        grant_types: ['authorization_code', 'refresh_token'],
        skipConsent: true,
        emitEmail: 'any',
      },
    ],
  });
}

/** A loud box around the demo notice, sized to its longest line. */
function banner(url: string): string {
  const lines = [
    'oidc-bridge DEMO MODE: memory store, SIMULATED DingTalk, demo client',
    'Not for production: give a config file (--config) to run for real.',
    '',
    `Open ${url}/demo/ and sign in as a sample employee.`,
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = '*'.repeat(width + 6);
  return `\n${rule}\n${lines.map((l) => `*  ${l.padEnd(width)}  *`).join('\n')}\n${rule}\n\n`;
}

export async function serveDemo(options: { port: number; host?: string }): Promise<{ url: string; close(): Promise<void> }> {
  const host = options.host ?? 'localhost';
  const listener = await listen(undefined, { host: host === 'localhost' ? '127.0.0.1' : host, port: options.port });
  const base = listener.url.replace('127.0.0.1', 'localhost');
  // Private keys that sign nothing after the demo: removed when it closes (and when the command stops).
  const keysDir = mkdtempSync(join(tmpdir(), 'oidc-bridge-demo-keys-'));
  const config = demoConfig(base, keysDir);
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const sandbox = createDingTalkSandbox();
  sandbox.addRedirectUri(SANDBOX_APP_KEY, `${base}/upstream/dingtalk/callback`);
  const demo = config.clients[0]!;
  const extraRoutes = demoRoutes(sandbox.app, {
    issuer: base,
    clientId: demo.client_id,
    clientSecret: demo.client_secret!,
    redirectUri: `${base}/demo/callback`,
    basePath: '/demo',
  });
  const bridge = await buildBridge(config, { production: false, log, extraRoutes }).catch(async (err: unknown) => {
    rmSync(keysDir, { recursive: true, force: true });
    await listener.close({ graceMs: 0 });
    throw err;
  });
  listener.attach(bridge.handler);
  process.stderr.write(banner(base));
  log.warn({ url: `${base}/demo/` }, 'demo mode: DingTalk is simulated and nothing is persisted');
  return {
    url: base,
    async close() {
      try {
        await listener.close({ graceMs: 0 });
        await bridge.close();
      } finally {
        rmSync(keysDir, { recursive: true, force: true });
      }
    },
  };
}
