/**
 * One language for every page of a request: the whole bridge (src/server/bridge.ts) answers an
 * oidc-provider error page, the server's not-found page and the chooser through the same
 * negotiation (src/pages/locale.ts), which weighs Accept-Language by q-value.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { configSchema } from '../../src/config/schema.js';
import { generateKeys } from '../../src/oidc/keys.js';
import { buildBridge, type Bridge } from '../../src/server/bridge.js';
import { listen, type Listening } from '../../src/server/listen.js';
import { Browser } from '../helpers/http-browser.js';
import { COOKIE_SECRET, RP_ORIGIN } from './harness.js';

/** English at q=0.1 loses to Chinese at the default q=1, though it comes first. */
const ZH_BY_WEIGHT = 'en;q=0.1, zh-CN';

let listener: Listening;
let bridge: Bridge;
let issuer: string;

before(async () => {
  const keys = mkdtempSync(join(tmpdir(), 'oidc-bridge-languages-keys-'));
  await generateKeys(keys);
  listener = await listen(undefined, { host: '127.0.0.1', port: 0 });
  issuer = `${listener.url}/sso`;
  const oauth2 = (id: string) => ({
    id,
    type: 'oauth2',
    clientId: 'bridge',
    clientSecret: 'secret',
    claims: { subject: 'sub' },
    authorizationURL: `https://${id}.example.test/authorize`,
    tokenURL: `https://${id}.example.test/token`,
    userInfoURL: `https://${id}.example.test/userinfo`,
  });
  const config = configSchema.parse({
    issuer,
    keys: { dir: keys },
    cookieSecrets: [COOKIE_SECRET],
    ui: { defaultLocale: 'en' },
    upstreams: [oauth2('first'), oauth2('second')],
    clients: [{ client_id: 'app', client_secret: 'app-secret', redirect_uris: [`${RP_ORIGIN}/cb`] }],
  });
  bridge = await buildBridge(config, { production: false, log: pino({ level: 'silent' }) });
  listener.attach(bridge.handler);
});
after(async () => {
  await listener.close({ graceMs: 0 });
  await bridge.close();
});

function authorize(clientId: string): string {
  const params = new URLSearchParams({
    client_id: clientId,
    redirect_uri: `${RP_ORIGIN}/cb`,
    response_type: 'code',
    scope: 'openid',
    state: 's',
    nonce: 'n',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  return `${issuer}/auth?${params}`;
}

const html = { accept: 'text/html', 'accept-language': ZH_BY_WEIGHT };

describe('one language for every page of a request', () => {
  it('oidc-provider’s error page (unknown client) speaks the weighted choice', async () => {
    const response = await new Browser().fetch(authorize('no-such-client'), { headers: html });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /<html lang="zh-CN">/);
  });

  it('the server’s not-found page speaks it too', async () => {
    const response = await new Browser().fetch(`${listener.url}/no-such-page`, { headers: html });
    assert.equal(response.status, 404);
    assert.match(await response.text(), /<html lang="zh-CN">/);
  });

  it('and so does the login page (the chooser)', async () => {
    const browser = new Browser();
    const started = await browser.fetch(authorize('app'), { headers: html });
    assert.equal(started.status, 303);
    const chooser = await browser.fetch(new URL(started.headers.get('location')!, issuer), { headers: html });
    assert.equal(chooser.status, 200);
    const page = await chooser.text();
    assert.match(page, /<html lang="zh-CN">/);
    assert.ok(page.includes('/upstream/first'), 'the chooser lists the upstreams');
  });
});
