// Proves src/cli/kubesphere.ts: the generated KubeSphere documents, parsed and checked field by
// field against docs/reference/kubernetes.md ("KubeSphere: the identity provider entry").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { runKubesphereCommand } from '../../src/cli/kubesphere.js';

const SECRET = 'ks-secret-0123456789abcdef0123456789';

const config = parseConfig(
  `
issuer: https://sso.example.com
cookieSecrets: ["${'c'.repeat(40)}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: k, clientSecret: s, corpId: ding1 }
clients:
  - client_id: kubesphere
    client_secret: ${SECRET}
    redirect_uris: [https://ks.example.com/oauth/redirect/bridge, https://ks.example.com/other]
    post_logout_redirect_uris: [https://ks.example.com/]
    grant_types: [authorization_code, refresh_token]
  - client_id: narrow
    client_secret: ${SECRET}
    scope: openid profile
    redirect_uris: [https://ks.example.com/oauth/redirect/bridge]
  - client_id: kubectl
    token_endpoint_auth_method: none
    redirect_uris: [https://ks.example.com/oauth/redirect/bridge]
  - client_id: hashed
    client_secret: "sha256:${'a'.repeat(64)}"
    redirect_uris: [https://ks.example.com/oauth/redirect/bridge]
`,
  {},
  'test',
);

function run(...args: string[]) {
  let out = '';
  let err = '';
  const code = runKubesphereCommand(config, args, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

interface Entry {
  name: string;
  type: string;
  mappingMethod: string;
  disableLoginConfirmation?: boolean;
  provider: Record<string, unknown>;
}

/** The JSON of the printed `kubectl patch … -p '…'`, with the shell's splice of the secret resolved. */
function patchOf(out: string, secret: string): { spec: { authentication: { oauthOptions: { identityProviders: Entry[] } } } } {
  const line = out.split('\n').find((l) => l.startsWith('kubectl '))!;
  assert.match(line, /^kubectl -n kubesphere-system patch cc ks-installer --type merge -p '/);
  const quoted = line.slice(line.indexOf("-p '") + 4, -1).replace(`'"$OIDC_CLIENT_SECRET"'`, secret);
  return parse(quoted) as ReturnType<typeof patchOf>;
}

function assertEntry(entry: Entry, version: '3' | '4') {
  assert.equal(entry.name, 'bridge');
  assert.equal(entry.type, 'OIDCIdentityProvider');
  assert.equal(entry.mappingMethod, 'auto');
  if (version === '3') assert.equal(entry.disableLoginConfirmation, true);
  const p = entry.provider;
  assert.equal(p.issuer, 'https://sso.example.com', 'the issuer exactly, no trailing slash');
  assert.equal(p.clientID, 'kubesphere');
  assert.equal(p.redirectURL, 'https://ks.example.com/oauth/redirect/bridge');
  assert.deepEqual(p.scopes, ['openid', 'profile', 'email', 'groups', 'offline_access']);
  assert.equal(p.postLogoutRedirectURI, 'https://ks.example.com/');
  assert.ok(!('insecureSkipVerify' in p));
}

describe('oidc-bridge kubesphere', () => {
  it('3.x: a merge patch of ks-installer, the secret read from the environment when it runs', () => {
    const { code, out, err } = run('--client', 'kubesphere', '--name', 'bridge', '--version', '3');
    assert.equal(code, 0, err);
    assert.ok(!out.includes(SECRET), 'the configured secret is not printed');
    assert.match(out, /^: "\$\{OIDC_CLIENT_SECRET:\?/m);
    const patch = patchOf(out, 'from-env');
    const [entry, ...others] = patch.spec.authentication.oauthOptions.identityProviders;
    assert.equal(others.length, 0);
    assertEntry(entry!, '3');
    assert.equal(entry!.provider.clientSecret, 'from-env');
    assert.match(err, /name "bridge" is permanent.*iam\.kubesphere\.io\/identify-provider.*\/oauth\/redirect\/bridge/s);
    assert.match(out, /REPLACES the whole identityProviders list/);
    assert.match(out, /private CA/);
  });

  it('4.x: the labelled identity-provider Secret with configuration.yaml', () => {
    const { code, out, err } = run('--client', 'kubesphere', '--name', 'bridge', '--version', '4', '--secret-env', 'KS_SECRET');
    assert.equal(code, 0, err);
    assert.ok(!out.includes(SECRET));
    const secret = parse(out) as {
      apiVersion: string;
      kind: string;
      type: string;
      metadata: { name: string; namespace: string; labels: Record<string, string> };
      stringData: Record<string, string>;
    };
    assert.equal(secret.apiVersion, 'v1');
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.type, 'config.kubesphere.io/identityprovider');
    assert.equal(secret.metadata.namespace, 'kubesphere-system');
    assert.equal(secret.metadata.name, 'identityprovider-bridge');
    assert.deepEqual(secret.metadata.labels, {
      'config.kubesphere.io/type': 'identityprovider',
      'config.kubesphere.io/identityprovider': 'bridge',
    });
    assert.deepEqual(Object.keys(secret.stringData), ['configuration.yaml']);
    const entry = parse(secret.stringData['configuration.yaml']!) as Entry;
    assertEntry(entry, '4');
    assert.ok(!('disableLoginConfirmation' in entry), '4.x has no disableLoginConfirmation');
    assert.equal(entry.provider.clientSecret, '${KS_SECRET}');
    assert.match(out, /envsubst '\$KS_SECRET'/);
    assert.match(err, /annotation iam\.kubesphere\.io\/identity-provider\.bridge/);
  });

  it('--with-secret prints the configured secret, and warns', () => {
    const { code, out, err } = run('--client', 'kubesphere', '--name', 'bridge', '--version', '3', '--with-secret');
    assert.equal(code, 0, err);
    assert.equal(patchOf(out, 'unused').spec.authentication.oauthOptions.identityProviders[0]!.provider.clientSecret, SECRET);
    assert.match(err, /output holds the client secret/);
    const hashed = run('--client', 'hashed', '--name', 'bridge', '--version', '4', '--with-secret');
    assert.equal(hashed.code, 1);
    assert.match(hashed.err, /only its sha256: hash/);
  });

  it('lists only the scopes the client may ask for, openid always', () => {
    const { code, out } = run('--client', 'narrow', '--name', 'bridge', '--version', '3');
    assert.equal(code, 0);
    assert.deepEqual(patchOf(out, 'x').spec.authentication.oauthOptions.identityProviders[0]!.provider.scopes, ['openid', 'profile']);
  });

  const refusals = [
    { why: 'an unknown client', args: ['--client', 'nope', '--name', 'bridge', '--version', '3'], says: /no client "nope".*add it first/ },
    {
      why: 'a client without the redirect URI of the name',
      args: ['--client', 'kubesphere', '--name', 'idaas', '--version', '3'],
      says: /no redirect URI ending in \/oauth\/redirect\/idaas.*add that to the client's redirect_uris/,
    },
    {
      why: 'a public client',
      args: ['--client', 'kubectl', '--name', 'bridge', '--version', '4'],
      says: /token_endpoint_auth_method none/,
    },
    {
      why: 'a name that is no label value',
      args: ['--client', 'kubesphere', '--name', 'my idp', '--version', '3'],
      says: /not a valid Kubernetes label value/,
    },
    {
      why: 'a name too long for the 4.x annotation',
      args: ['--client', 'kubesphere', '--name', 'a'.repeat(50), '--version', '4'],
      says: /annotation key/,
    },
  ];
  for (const { why, args, says } of refusals) {
    it(`refuses ${why}, saying what to fix, and prints nothing`, () => {
      const { code, out, err } = run(...args);
      assert.equal(code, 1);
      assert.equal(out, '');
      assert.match(err, says);
    });
  }

  it('a usage error exits 2', () => {
    assert.equal(run('--client', 'kubesphere', '--name', 'bridge', '--version', '5').code, 2);
    assert.equal(run('--bogus').code, 2);
  });
});
