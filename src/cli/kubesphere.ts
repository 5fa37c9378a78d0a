/**
 * `oidc-bridge kubesphere`: the KubeSphere side of a client, generated from the bridge's config so
 * it cannot drift from it: for 3.x a merge patch of the ClusterConfiguration `ks-installer` (3.x
 * re-renders the ConfigMap `kubesphere-config` from it), for 4.x the labelled identity-provider
 * Secret. Every rule it follows is in docs/reference/kubernetes.md ("KubeSphere: the identity
 * provider entry"). `kubesphere migrate` is in src/cli/kubesphere-migrate.ts.
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { ClientConfig, Config } from '../config/schema.js';
import { isHashedSecret } from '../config/hashed-secret.js';
import { SCOPES } from '../oidc/scopes.js';
import { IDENTITY_PROVIDER_ANNOTATION, idpNameProblem } from './kubesphere-users.js';

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const KUBESPHERE_USAGE = `Usage: oidc-bridge kubesphere --config <file> --client <id> --name <idp name> --version 3|4
                                [--secret-env <VAR>] [--with-secret]
       oidc-bridge kubesphere migrate --config <file> --users <users.yaml> --name <idp name>
                                --map-by idaas-sub|dingtalk-userid|csv [--csv <file>] [--dry-run] …
                                (oidc-bridge kubesphere migrate --help)

Prints KubeSphere's identity provider entry for the bridge client <id>:
  --version 3   a kubectl merge patch of the ClusterConfiguration ks-installer
  --version 4   the identity-provider Secret of namespace kubesphere-system
The client secret is not printed: the output reads it from $OIDC_CLIENT_SECRET (--secret-env)
when it runs. --with-secret prints the configured secret instead (keep that output off terminals
and logs).
`;

/** The KubeSphere namespace every identity provider lives in (3.x and 4.x). */
const NAMESPACE = 'kubesphere-system';
/** The refusal of a client for KubeSphere, with what to change (undefined when it fits). */
function clientProblem(client: ClientConfig, name: string): string | undefined {
  const method = client.token_endpoint_auth_method ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    return (
      `client "${client.client_id}" uses token_endpoint_auth_method ${method}; KubeSphere authenticates with a client secret ` +
      '(client_secret_basic or client_secret_post): give the client a client_secret and one of those methods'
    );
  }
  if (kubesphereRedirect(client, name) === undefined) {
    return (
      `client "${client.client_id}" has no redirect URI ending in /oauth/redirect/${name} (it has: ${(client.redirect_uris ?? []).join(', ')}). ` +
      `KubeSphere's console sends https://<ks-console host>/oauth/redirect/${name}: add that to the client's redirect_uris ` +
      'in the bridge config, or pass the --name the existing redirect URI names'
    );
  }
  return undefined;
}

/** The client's redirect URI for identity provider `name`: `…/oauth/redirect/<name>`, no query. */
export function kubesphereRedirect(client: ClientConfig, name: string): string | undefined {
  return (client.redirect_uris ?? []).find((uri) => {
    try {
      const url = new URL(uri);
      return /^https?:$/.test(url.protocol) && url.search === '' && url.pathname.endsWith(`/oauth/redirect/${name}`);
    } catch {
      return false;
    }
  });
}

/**
 * The scopes KubeSphere is to list: `openid` always (with no `scopes` KubeSphere sends no scope at
 * all), `profile` for `preferred_username`, `email`; `groups` and `offline_access` when the client
 * may have them. A client's `scope` limits what it may ask for.
 */
export function kubesphereScopes(client: ClientConfig): string[] {
  const allowed = client.scope === undefined ? new Set(SCOPES) : new Set(client.scope.split(/\s+/));
  const wanted = ['openid', 'profile', 'email', 'groups'];
  if (client.grant_types?.includes('refresh_token')) wanted.push('offline_access');
  return wanted.filter((s) => s === 'openid' || allowed.has(s));
}

export interface IdentityProviderEntry {
  name: string;
  type: 'OIDCIdentityProvider';
  mappingMethod: 'auto';
  disableLoginConfirmation: true;
  provider: Record<string, unknown>;
}

/** The identity provider entry (3.x and 4.x share it; 4.x ignores `disableLoginConfirmation`). */
export function identityProviderEntry(config: Config, client: ClientConfig, name: string, clientSecret: string): IdentityProviderEntry {
  const provider: Record<string, unknown> = {
    // With an issuer KubeSphere runs discovery and takes every endpoint from it; the string must
    // equal the discovery document's `issuer` exactly.
    issuer: config.issuer,
    clientID: client.client_id,
    clientSecret,
    redirectURL: kubesphereRedirect(client, name)!,
    scopes: kubesphereScopes(client),
  };
  const logoutTo = client.post_logout_redirect_uris?.[0];
  if (logoutTo !== undefined) provider.postLogoutRedirectURI = logoutTo;
  // insecureSkipVerify is never emitted: a private CA goes into ks-apiserver's trust store instead.
  return { name, type: 'OIDCIdentityProvider', mappingMethod: 'auto', disableLoginConfirmation: true, provider };
}

/** A string inside single quotes for a POSIX shell. */
function shellQuoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Stands for the client secret until the output is rendered; plain ASCII, so no format escapes it. */
const SECRET_MARK = '__OIDC_BRIDGE_CLIENT_SECRET__';

/** 3.x: one `kubectl patch` line; the secret spliced in from the environment unless given. */
export function renderKubesphere3(entry: IdentityProviderEntry, secretEnv: string | undefined): string {
  const patch = { spec: { authentication: { oauthOptions: { identityProviders: [entry] } } } };
  const json = shellQuoted(JSON.stringify(patch));
  // '…"clientSecret":"'"$VAR"'"…': the shell inserts the value when the command runs, so neither
  // this output nor the shell history holds it.
  const command = secretEnv === undefined ? json : json.replace(SECRET_MARK, `'"$${secretEnv}"'`);
  return [
    `# KubeSphere 3.x: identity provider "${entry.name}" for client ${String(entry.provider.clientID)} of ${String(entry.provider.issuer)}.`,
    '# ks-installer re-renders the ConfigMap kubesphere-config from this ClusterConfiguration.',
    '# A merge patch REPLACES the whole identityProviders list: add every other entry you keep to it',
    `# (kubectl -n ${NAMESPACE} get cc ks-installer -o jsonpath='{.spec.authentication.oauthOptions.identityProviders}').`,
    '# A bridge certificate from a private CA: add the CA to ks-apiserver (SSL_CERT_FILE), never insecureSkipVerify.',
    ...(secretEnv === undefined ? [] : [`: "\${${secretEnv}:?set ${secretEnv} to the client secret first}"`]),
    `kubectl -n ${NAMESPACE} patch cc ks-installer --type merge -p ${command}`,
    '',
  ].join('\n');
}

/** The name of the 4.x Secret: `identityprovider-<name>` (KubeSphere finds it by label and type, not by name). */
export function identityProviderSecretName(name: string): string {
  return `identityprovider-${name.toLowerCase().replaceAll('_', '-')}`;
}

/** 4.x: the labelled identity-provider Secret, to apply with `kubectl apply -f -`. */
export function renderKubesphere4(entry: IdentityProviderEntry, secretEnv: string | undefined): string {
  const { disableLoginConfirmation: _3xOnly, ...configuration } = entry;
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: identityProviderSecretName(entry.name),
      namespace: NAMESPACE,
      labels: {
        // How ks-apiserver lists identity providers.
        'config.kubesphere.io/type': 'identityprovider',
        // What KubeSphere's webhook would add; set here so the Secret is complete without it.
        'config.kubesphere.io/identityprovider': entry.name,
      },
    },
    type: 'config.kubesphere.io/identityprovider',
    stringData: { 'configuration.yaml': stringify(configuration) },
  };
  const text = stringify(secret, { lineWidth: 0 });
  const apply =
    secretEnv === undefined ? 'kubectl apply -f <this file>' : `${secretEnv}=… envsubst '$${secretEnv}' < <this file> | kubectl apply -f -`;
  return [
    `# KubeSphere 4.x: identity provider "${entry.name}" for client ${String(entry.provider.clientID)} of ${String(entry.provider.issuer)}.`,
    `# Apply with: ${apply}`,
    '# A bridge certificate from a private CA: add the CA to ks-apiserver (SSL_CERT_FILE), never insecureSkipVerify.',
    secretEnv === undefined ? text : text.replace(SECRET_MARK, `\${${secretEnv}}`),
  ].join('\n');
}

/** `oidc-bridge kubesphere …` (not `migrate`: src/cli/kubesphere-migrate.ts): the exit code (0 ok, 1 refused, 2 usage). */
export function runKubesphereCommand(config: Config, argv: string[], io: CliIo): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        client: { type: 'string' },
        name: { type: 'string' },
        version: { type: 'string' },
        'secret-env': { type: 'string' },
        'with-secret': { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${KUBESPHERE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(KUBESPHERE_USAGE);
    return 0;
  }
  const { client: clientId, name, version } = values;
  if (clientId === undefined || name === undefined || (version !== '3' && version !== '4')) {
    io.stderr(`kubesphere needs --client, --name and --version 3 or 4\n\n${KUBESPHERE_USAGE}`);
    return 2;
  }
  const client = config.clients.find((c) => c.client_id === clientId);
  if (!client) {
    io.stderr(
      `error: no client "${clientId}" in the config (clients: ${config.clients.map((c) => c.client_id).join(', ')}); add it first\n`,
    );
    return 1;
  }
  const problem = idpNameProblem(name, version) ?? clientProblem(client, name);
  if (problem !== undefined) {
    io.stderr(`error: ${problem}\n`);
    return 1;
  }
  let secretEnv: string | undefined = values['secret-env'] ?? 'OIDC_CLIENT_SECRET';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(secretEnv)) {
    io.stderr(`error: --secret-env "${secretEnv}" is not an environment variable name\n`);
    return 2;
  }
  let clientSecret = SECRET_MARK;
  if (values['with-secret']) {
    if (client.client_secret === undefined || isHashedSecret(client.client_secret)) {
      io.stderr(`error: the config holds no client secret of "${clientId}" (only its sha256: hash); give it through --secret-env\n`);
      return 1;
    }
    clientSecret = client.client_secret;
    secretEnv = undefined;
    io.stderr('warning: the output holds the client secret: write it to a file only you can read, or pipe it, never to a shared log\n');
  }
  io.stderr(
    `warning: the identity provider name "${name}" is permanent: KubeSphere writes it into every user it links ` +
      `(${version === '3' ? 'label iam.kubesphere.io/identify-provider' : `annotation ${IDENTITY_PROVIDER_ANNOTATION}.${name}`}) ` +
      `and the console's redirect URI ends in /oauth/redirect/${name}; renaming it later unlinks every user\n`,
  );
  const entry = identityProviderEntry(config, client, name, clientSecret);
  io.stdout(version === '3' ? renderKubesphere3(entry, secretEnv) : renderKubesphere4(entry, secretEnv));
  return 0;
}
