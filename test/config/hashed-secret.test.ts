// `sha256:` client secrets in the config (src/config/hashed-secret.ts): accepted only in a form
// that can be compared, and only for client_secret_basic / client_secret_post.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { hashedSecretDigest, hashSecret, newHashedSecret } from '../../src/config/hashed-secret.js';

const HEX = createHash('sha256').update('s'.repeat(43)).digest('hex');

function configWith(client: string): string {
  return `
issuer: https://sso.example.com
cookieSecrets: ["${'s'.repeat(32)}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: key, clientSecret: secret, corpId: ding1 }
clients:
  - { client_id: app, redirect_uris: [https://app.example.com/cb], ${client} }
`;
}

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, {}, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('hashed client secrets in the config', () => {
  it('accepts sha256: with a hex or base64url digest for client_secret_basic and client_secret_post', () => {
    const { hashed } = newHashedSecret();
    for (const client of [
      `client_secret: "sha256:${HEX}"`,
      `client_secret: "${hashed}", token_endpoint_auth_method: client_secret_basic`,
      `client_secret: "${hashed}", token_endpoint_auth_method: client_secret_post`,
    ]) {
      assert.doesNotThrow(() => parseConfig(configWith(client), {}, 'test.yaml'), client);
    }
    assert.deepEqual(hashedSecretDigest(`sha256:${HEX}`), Buffer.from(HEX, 'hex'));
    assert.deepEqual(hashedSecretDigest(hashSecret('abc')), createHash('sha256').update('abc').digest());
  });

  it('refuses a hashed secret for client_secret_jwt, naming the client and why', () => {
    const problems = problemsOf(configWith(`client_secret: "sha256:${HEX}", token_endpoint_auth_method: client_secret_jwt`));
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /^clients\[0\]\.client_secret \(client "app"\): /);
    assert.match(problems[0]!, /client_secret_jwt needs the secret itself as the HMAC key/);
  });

  it('refuses a digest that is not 32 bytes of hex or base64url', () => {
    for (const digest of ['abc', HEX.slice(1), `${HEX}00`, 'x'.repeat(43).replace('x', '+')]) {
      const problems = problemsOf(configWith(`client_secret: "sha256:${digest}"`));
      assert.match(
        problems.join('\n'),
        /client_secret \(client "app"\): a hashed secret is sha256: followed by the SHA-256 digest/,
        digest,
      );
    }
  });
});
