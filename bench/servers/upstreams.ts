/**
 * The upstreams of the benchmarked bridges, in a process of their own so their work is not counted
 * in the load generator's: the DingTalk sandbox (src/sandbox) and the fake OIDC issuer of the tests
 * (test/doubles/fake-oidc-issuer.ts), whose accounts have no membership recheck.
 * argv: JSON { callbacks: string[] } (bridge callback URLs to register at both).
 * Prints one JSON line { sandboxUrl, oidc: { issuer, clientId, clientSecret } } once listening.
 */
import { createDingTalkSandbox, SANDBOX_APP_KEY } from '../../src/sandbox/index.js';
import { startFakeOidcIssuer } from '../../test/doubles/fake-oidc-issuer.js';

const { callbacks } = JSON.parse(process.argv[2] ?? '{}') as { callbacks: { dingtalk: string[]; corp: string[] } };
const sandbox = createDingTalkSandbox();
for (const uri of callbacks.dingtalk) sandbox.addRedirectUri(SANDBOX_APP_KEY, uri);
const served = await sandbox.listen(0, '127.0.0.1');
const oidc = await startFakeOidcIssuer({ user: { sub: 'bench-user-1', name: 'Bench User', preferred_username: 'bench' } });
for (const uri of callbacks.corp) oidc.addRedirectUri(uri);
process.stdout.write(
  `${JSON.stringify({ sandboxUrl: served.url, oidc: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret } })}\n`,
);
process.on('SIGTERM', () => {
  void Promise.all([served.close(), oidc.close()]).then(() => process.exit(0));
});
