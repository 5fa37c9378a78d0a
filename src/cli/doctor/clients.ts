/**
 * Each client's registration, read without the network: redirect URIs (exact strings, RFC 6749
 * §3.1.2; https except loopback, RFC 8252 §7.3; KubeSphere's `/oauth/redirect/<identity provider>`,
 * docs/reference/kubernetes.md), kubectl-style clients public (a secret copied into every kubeconfig
 * is no secret; PKCE then protects the code, RFC 8252 §8.1), refresh where offline_access is asked
 * for, and secrets that are neither short nor placeholders.
 */
import { isLoopbackHost } from '../../config/load.js';
import type { ClientConfig, Config } from '../../config/schema.js';
import { isHashedSecret } from '../../config/hashed-secret.js';
import { error, ok, warning, type Finding } from './findings.js';

/** Shorter than this a secret can be guessed or was typed by hand; `clients hash-secret` makes 43 characters. */
export const MIN_SECRET_LENGTH = 32;

const PLACEHOLDER =
  /^(change[-_ ]?me|changeit|secret|password|passw0rd|example|todo|placeholder|xxx+|test|default|your[-_ ]?secret.*|<.*>)$|changeme|change-me|replace[-_ ]?me/i;

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function checkClients(config: Config): Finding[] {
  return config.clients.flatMap((client) => [
    ...redirectUriFindings(client),
    ...kubectlFindings(client),
    ...refreshFindings(client),
    ...secretFindings(`client ${client.client_id}`, 'client_secret', client.client_secret),
  ]);
}

const subjectOf = (client: ClientConfig) => `client ${client.client_id}`;

function redirectUriFindings(client: ClientConfig): Finding[] {
  const subject = subjectOf(client);
  const problems: Finding[] = [];
  for (const uri of client.redirect_uris ?? []) {
    const problem = redirectUriProblem(client, uri);
    if (problem) problems.push(problem);
  }
  if (looksLikeKubeSphere(client) && !(client.redirect_uris ?? []).some((uri) => KUBESPHERE_REDIRECT.test(uri))) {
    problems.push(
      error(
        'client.redirect-uri',
        subject,
        'looks like KubeSphere, but no redirect URI ends in /oauth/redirect/<identity provider name>',
        'Register https://<console host>/oauth/redirect/<name>, where <name> is the identity provider name in KubeSphere (the same name for the life of the cluster: it is part of every linked user).',
      ),
    );
  }
  return problems.length > 0
    ? problems
    : [ok('client.redirect-uri', subject, `${(client.redirect_uris ?? []).length} redirect URI(s) well formed`)];
}

const KUBESPHERE_REDIRECT = /^https?:\/\/[^/]+\/oauth\/redirect\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function looksLikeKubeSphere(client: ClientConfig): boolean {
  return (
    /kubesphere|ks-console/i.test(`${client.client_id} ${client.client_name ?? ''}`) ||
    (client.redirect_uris ?? []).some((u) => u.includes('/oauth/redirect/'))
  );
}

/** Config validation has already refused a URI that is not an absolute URL or holds a `*` (src/config/schema.ts). */
function redirectUriProblem(client: ClientConfig, uri: string): Finding | undefined {
  const subject = subjectOf(client);
  const url = new URL(uri);
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    if (isLoopbackHost(url.hostname)) return undefined;
    return warning(
      'client.redirect-uri',
      subject,
      `redirect URI ${uri} is plain http on a network host: the authorization code crosses the network in clear text`,
      'Serve the relying party over https and register the https:// URI.',
    );
  }
  if (client.application_type === 'native') return undefined; // a private-use scheme (RFC 8252 §7.1)
  return error(
    'client.redirect-uri',
    subject,
    `redirect URI ${uri} uses ${url.protocol.slice(0, -1)}:, which only a native application may (application_type: native)`,
    'Use an https:// redirect URI, or set application_type: native for an app on the device.',
  );
}

/**
 * kubelogin and the device flow: the device grant, a kubectl-ish name, or a command-line redirect:
 * a loopback URI of a native client, or one without a path (kubelogin's `http://localhost:8000`).
 * A web application in development (`http://localhost:3000/callback`) is not one.
 */
export function isKubectlStyle(client: ClientConfig): boolean {
  const grants: readonly string[] = client.grant_types ?? [];
  const commandLine = (uri: string) => {
    if (!URL.canParse(uri)) return false;
    const url = new URL(uri);
    return url.protocol === 'http:' && isLoopbackHost(url.hostname) && (client.application_type === 'native' || url.pathname === '/');
  };
  return (
    grants.includes(DEVICE_GRANT) ||
    /kubectl|kubelogin|kubeconfig/i.test(`${client.client_id} ${client.client_name ?? ''}`) ||
    (client.redirect_uris ?? []).some(commandLine)
  );
}

function kubectlFindings(client: ClientConfig): Finding[] {
  if (!isKubectlStyle(client)) return [];
  const subject = subjectOf(client);
  if (client.token_endpoint_auth_method !== 'none') {
    return [
      error(
        'client.public-pkce',
        subject,
        'a kubectl-style client (loopback redirects, kubelogin or the device grant) is confidential: its secret would sit in every kubeconfig',
        'Make it public: token_endpoint_auth_method: none and no client_secret (the bridge then requires PKCE S256), and drop --oidc-client-secret from the kubeconfigs.',
      ),
    ];
  }
  return [ok('client.public-pkce', subject, 'kubectl-style client is public; the bridge requires PKCE of it')];
}

function refreshFindings(client: ClientConfig): Finding[] {
  const subject = subjectOf(client);
  const grants: readonly string[] = client.grant_types ?? ['authorization_code'];
  const refresh = grants.includes('refresh_token');
  const scopes = client.scope?.split(' ').filter(Boolean);
  const offline = scopes?.includes('offline_access');
  if (offline && !refresh) {
    return [
      error(
        'client.refresh-grant',
        subject,
        'scope lists offline_access, but grant_types lacks refresh_token: the client asks for refresh tokens and never gets one',
        'Add refresh_token to grant_types (or drop offline_access from scope).',
      ),
    ];
  }
  if (refresh && scopes && !offline) {
    return [
      warning(
        'client.refresh-grant',
        subject,
        'has the refresh_token grant, but its scope list lacks offline_access: a relying party that asks for offline_access is refused',
        'Add offline_access to scope, or remove the scope key so every scope is allowed.',
      ),
    ];
  }
  if (!refresh && isKubectlStyle(client)) {
    return [
      warning(
        'client.refresh-grant',
        subject,
        'a kubectl-style client without refresh_token: people sign in again each time the ID token expires',
        'Add refresh_token to grant_types.',
      ),
    ];
  }
  return [ok('client.refresh-grant', subject, refresh ? 'refresh tokens issued' : 'no refresh tokens (none asked for)')];
}

/** A secret's strength, named by its owner and length only: the value is never shown. */
export function secretFindings(subject: string, key: string, secret: string | undefined): Finding[] {
  if (secret === undefined || isHashedSecret(secret)) return [];
  if (PLACEHOLDER.test(secret.trim())) {
    return [
      error(
        'secret.placeholder',
        subject,
        `${key} looks like a placeholder`,
        'Replace it with a random value (`openssl rand -base64 32`; for a client, `oidc-bridge clients hash-secret`), kept in a Secret and read through ${VAR}.',
      ),
    ];
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    return [
      warning(
        'secret.weak',
        subject,
        `${key} has ${secret.length} characters (fewer than ${MIN_SECRET_LENGTH}): short secrets can be guessed`,
        'Use a random value of 32+ characters (`oidc-bridge clients hash-secret` makes one and its hashed form).',
      ),
    ];
  }
  return [];
}
