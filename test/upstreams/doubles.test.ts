// The fake IDaaS and OIDC issuer are as strict as the DingTalk sandbox: an exact, registered
// redirect_uri; codes single use, bound to their client and redirect_uri. Without that, a bridge
// that sent the wrong callback URL would still pass every test against them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeIdaas, type FakeIdaas } from '../doubles/fake-idaas.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../doubles/fake-oidc-issuer.js';

const REGISTERED = 'http://127.0.0.1:9/upstream/x/callback';

interface Subject {
  authorize: string;
  token: string;
  clientId: string;
  clientSecret: string;
}

async function authorize(subject: Subject, redirectUri: string): Promise<{ status: number; code?: string }> {
  const url = new URL(subject.authorize);
  const params = { client_id: subject.clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 's', nonce: 'n' };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const res = await fetch(url, { redirect: 'manual' });
  await res.arrayBuffer();
  const location = res.headers.get('location');
  return { status: res.status, code: location ? (new URL(location).searchParams.get('code') ?? undefined) : undefined };
}

async function redeem(
  subject: Subject,
  code: string,
  redirectUri: string,
  clientId = subject.clientId,
): Promise<{ status: number; error?: string }> {
  const res = await fetch(subject.token, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      client_secret: subject.clientSecret,
    }),
  });
  const body = (await res.json()) as { error?: string };
  return { status: res.status, error: body.error };
}

function strictness(name: string, subject: () => Subject) {
  describe(`${name} is as strict as the DingTalk sandbox`, () => {
    it('refuses an unregistered or merely similar redirect_uri without redirecting', async () => {
      for (const uri of ['http://127.0.0.1:9/elsewhere', `${REGISTERED}/`, `${REGISTERED}?x=1`, 'http://localhost:9/upstream/x/callback']) {
        const answer = await authorize(subject(), uri);
        assert.equal(answer.status, 400, uri);
        assert.equal(answer.code, undefined, uri);
      }
    });

    it('redeems a code once, for the redirect_uri it was issued for and the client that got it', async () => {
      const issued = await authorize(subject(), REGISTERED);
      assert.equal(issued.status, 302);
      assert.ok(issued.code, 'a code for the registered redirect_uri');
      assert.equal((await redeem(subject(), issued.code, `${REGISTERED}/`)).error, 'invalid_grant', 'another redirect_uri');
      assert.equal((await redeem(subject(), issued.code, REGISTERED)).error, 'invalid_grant', 'the failed attempt spent the code');

      const second = (await authorize(subject(), REGISTERED)).code!;
      assert.equal((await redeem(subject(), second, REGISTERED, 'another-client')).status, 401, 'another client');
      assert.equal((await redeem(subject(), second, REGISTERED)).status, 200, 'its own client');
      assert.equal((await redeem(subject(), second, REGISTERED)).error, 'invalid_grant', 'single use');
    });
  });
}

let idaas: FakeIdaas;
let issuer: FakeOidcIssuer;
before(async () => {
  idaas = await startFakeIdaas({ clientAuth: 'client_secret_post', redirectUris: [REGISTERED] });
  issuer = await startFakeOidcIssuer({ clientAuth: 'client_secret_post' });
  issuer.addRedirectUri(REGISTERED);
});
after(async () => {
  await idaas.close();
  await issuer.close();
});

strictness('the fake IDaaS', () => ({
  authorize: idaas.endpoints.authorizationURL,
  token: idaas.endpoints.tokenURL,
  clientId: idaas.clientId,
  clientSecret: idaas.clientSecret,
}));
strictness('the fake OIDC issuer', () => ({
  authorize: issuer.endpoints.authorization,
  token: issuer.endpoints.token,
  clientId: issuer.clientId,
  clientSecret: issuer.clientSecret,
}));
