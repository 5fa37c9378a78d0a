/**
 * The demo's relying party: a real OIDC client (openid-client) that signs in through the bridge
 * with code + PKCE and shows what an application receives: the verified ID token claims and
 * userinfo. It keeps its per-login secrets in an HttpOnly cookie-keyed map for one process only;
 * it is a demonstration, not part of the bridge.
 */
import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import * as client from 'openid-client';

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>
body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f6f8;color:#1f2933}
main{max-width:760px;margin:40px auto;background:#fff;border-radius:12px;padding:32px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:24px;margin-top:0} pre{background:#0f172a;color:#e2e8f0;padding:16px;border-radius:8px;overflow:auto;font-size:14px}
a.button,button{display:inline-block;background:#1668dc;color:#fff;border:0;border-radius:8px;padding:10px 20px;font-size:16px;text-decoration:none;cursor:pointer}
.note{color:#52606d;font-size:14px}</style></head><body><main>${body}</main></body></html>`;
}

/** The demo's routes: the sandbox as DingTalk, the demo client, and `/` leading to it. */
export function demoRoutes(
  sandbox: express.Express,
  client: Parameters<typeof createDemoClient>[0],
): { path: string; router: express.RequestHandler }[] {
  const root = express.Router();
  root.get('/', (_req, res) => res.redirect(302, `${client.basePath}/`));
  return [
    { path: '/_sandbox', router: sandbox },
    { path: client.basePath, router: createDemoClient(client) },
    { path: '/', router: root },
  ];
}

export function createDemoClient(options: {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  basePath: string;
}): Router {
  const router = express.Router();
  const pending = new Map<string, Pending>();
  let configuration: client.Configuration | undefined;
  const discover = async () => {
    configuration ??= await client.discovery(
      new URL(options.issuer),
      options.clientId,
      options.clientSecret,
      undefined,
      options.issuer.startsWith('http://') ? { execute: [client.allowInsecureRequests] } : undefined,
    );
    return configuration;
  };

  router.get('/', (_req, res) => {
    res.type('html').send(
      page(
        'oidc-bridge demo',
        `<h1>oidc-bridge demo application</h1>
<p>This page is an ordinary OpenID Connect client. Sign in, choose a sample employee on the simulated DingTalk page,
and see the tokens the bridge issues.</p>
<p><a class="button" href="${options.basePath}/login">Sign in with oidc-bridge</a></p>
<p><a href="/_sandbox/dingtalk-app?next=${encodeURIComponent(`${options.basePath}/login`)}">Open as in the DingTalk app</a>
<span class="note">(choose who is signed in to the simulated DingTalk app; the bridge then signs them in with requestAuthCode, without a sign-in page)</span></p>
<p class="note">Discovery: <a href="${escapeHtml(options.issuer)}/.well-known/openid-configuration">${escapeHtml(options.issuer)}/.well-known/openid-configuration</a></p>`,
      ),
    );
  });

  router.get('/login', async (_req, res, next) => {
    try {
      const config = await discover();
      const verifier = client.randomPKCECodeVerifier();
      const key = randomBytes(16).toString('base64url');
      const entry = { verifier, state: client.randomState(), nonce: client.randomNonce() };
      pending.set(key, entry);
      setTimeout(() => pending.delete(key), 600_000).unref();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: options.redirectUri,
        scope: 'openid profile email phone groups dingtalk offline_access',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: entry.state,
        nonce: entry.nonce,
      });
      res.setHeader('Set-Cookie', `demo_login=${key}; Path=${options.basePath}; HttpOnly; SameSite=Lax; Max-Age=600`);
      res.redirect(303, url.href);
    } catch (err) {
      next(err);
    }
  });

  router.get('/callback', async (req, res) => {
    const key = /(?:^|;\s*)demo_login=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const entry = key ? pending.get(key) : undefined;
    if (!entry) {
      res
        .status(400)
        .type('html')
        .send(
          page(
            'Start again',
            `<h1>Start again</h1><p>This sign-in was not started here or has expired.</p><p><a class="button" href="${options.basePath}/">Back</a></p>`,
          ),
        );
      return;
    }
    pending.delete(key!);
    try {
      const config = await discover();
      const current = new URL(req.originalUrl, options.redirectUri);
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: entry.verifier,
        expectedState: entry.state,
        expectedNonce: entry.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      res.type('html').send(
        page(
          'Signed in',
          `<h1>Signed in as ${escapeHtml(typeof claims.preferred_username === 'string' ? claims.preferred_username : claims.sub)}</h1>
<h2>ID token claims (signature verified)</h2><pre>${escapeHtml(JSON.stringify(claims, null, 2))}</pre>
<h2>userinfo</h2><pre>${escapeHtml(JSON.stringify(userinfo, null, 2))}</pre>
<p class="note">A refresh token was ${tokens.refresh_token ? 'issued' : 'not issued'}. Tokens themselves are not shown.</p>
<p><a class="button" href="${options.basePath}/">Sign in again</a></p>`,
        ),
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      res
        .status(400)
        .type('html')
        .send(
          page(
            'Sign-in failed',
            `<h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p><a class="button" href="${options.basePath}/">Try again</a></p>`,
          ),
        );
    }
  });
  return router;
}
