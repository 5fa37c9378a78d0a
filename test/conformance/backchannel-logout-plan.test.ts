// oidcc-backchannel-rp-initiated-logout-certification-test-plan: OpenID Connect Back-Channel
// Logout 1.0 triggered by RP-Initiated Logout. The client's backchannel_logout_uri is a real local
// HTTP server; the logout token it receives is verified with jose against the OP's jwks_uri.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startBackchannelReceiver, type BackchannelReceiver } from './backchannel-receiver.js';
import { POST_LOGOUT, startOp, webClient, type Op } from './op.js';
import { confirm, endSession } from './logout.js';
import { discover, signIn, validateIdToken } from './rp.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('oidcc-backchannel-rp-initiated-logout-certification-test-plan', () => {
  let receiver: BackchannelReceiver;
  let op: Op;
  before(async () => {
    receiver = await startBackchannelReceiver();
    op = await startOp({
      clients: [webClient('rp-bcl', { backchannel_logout_uri: receiver.url, backchannel_logout_session_required: true })],
    });
  });
  after(async () => {
    await op?.close();
    await receiver?.close();
  });

  it('oidcc-backchannel-logout-discovery-endpoint-verification: discovery says back-channel logout is supported, with sid', async () => {
    const doc = await discover(op);
    assert.equal(doc.backchannel_logout_supported, true);
    assert.equal(doc.backchannel_logout_session_supported, true);
    assert.ok((doc.claims_supported as string[]).includes('sid'), 'sid is a supported claim');
  });

  it(
    'oidcc-backchannel-rp-initiated-logout: RP-initiated logout POSTs a logout token (iss, aud, iat, exp, jti, event, sid, sub, no nonce) signed by a published key',
    { timeout: 15_000 },
    async () => {
      const { leg, tokens } = await signIn(op, { clientId: 'rp-bcl' });
      const idToken = await validateIdToken(op, tokens.id_token, { clientId: 'rp-bcl', nonce: leg.params.nonce! });
      assert.equal(typeof idToken.sid, 'string', 'the ID token carries sid (Back-Channel Logout §2.1)');

      const page = await endSession(
        op,
        { id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 'bcl' },
        leg.browser,
      );
      const done = await confirm(page);
      assert.equal(done.callback?.searchParams.get('state'), 'bcl', 'the front channel still returns to the client');

      const request = await receiver.next();
      assert.equal(request.method, 'POST');
      assert.match(request.contentType, /^application\/x-www-form-urlencoded/);
      const logoutToken = request.body.get('logout_token');
      assert.ok(logoutToken, 'the body is logout_token=<JWT>');

      const jwks = createRemoteJWKSet(new URL((await discover(op)).jwks_uri));
      const { payload, protectedHeader } = await jwtVerify(logoutToken, jwks, {
        issuer: op.issuer,
        audience: 'rp-bcl',
        algorithms: ['RS256'],
        typ: 'logout+jwt',
      });
      assert.equal(typeof payload.iat, 'number');
      assert.ok(typeof payload.exp === 'number' && payload.exp > payload.iat!, 'exp after iat');
      assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0, 'a jti');
      assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} }, 'the back-channel logout event, as an empty object');
      assert.equal(payload.sid, idToken.sid, 'sid of the session that ended');
      assert.equal(payload.sub, idToken.sub);
      assert.equal('nonce' in payload, false, 'a logout token never carries a nonce (§2.4)');
      assert.ok(protectedHeader.kid, 'names its signing key');
    },
  );
});
