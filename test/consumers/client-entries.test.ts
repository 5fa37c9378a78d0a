// Every client entry on docs/connect-your-tools.md loads through the real config loader, and each
// registers what its consumer really sends: the redirect URI built the way the consumer builds it,
// PKCE required where the consumer sends it, a public native client for the Argo CD CLI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config/load.js';
import { DOC_PATH, loadDocClients, snippet, snippets } from './doc-snippets.js';

const CLIENT_SNIPPETS = ['grafana-client', 'argocd-client', 'harbor-client', 'gitlab-client', 'express-client'];

describe('docs/connect-your-tools.md client entries', () => {
  it('has a client entry for each consumer, and every snippet it names is on the page', () => {
    const names = [...snippets().keys()];
    for (const name of CLIENT_SNIPPETS) assert.ok(names.includes(name), `missing snippet ${name}`);
    assert.equal(snippets().get('grafana-client')?.lang, 'yaml');
  });

  it('loads all entries together through the config loader (no unknown key, no duplicate id)', () => {
    const config = loadDocClients(...CLIENT_SNIPPETS);
    assert.deepEqual(
      config.clients.map((c) => c.client_id),
      ['grafana', 'argocd', 'argocd-cli', 'harbor', 'gitlab', 'reports'],
    );
    // The ${ENV} references resolved: no client carries the literal reference.
    for (const c of config.clients) assert.ok(!c.client_secret?.includes('${'), c.client_id);
  });

  it('would catch a mistake in an entry (the loader is strict)', () => {
    assert.throws(
      () => loadDocClients('grafana-client', 'grafana-client'),
      (err: unknown) => err instanceof ConfigError && /duplicate client_id "grafana"/.test(err.message),
    );
  });

  it('registers each redirect URI exactly as its consumer builds it', () => {
    const byId = new Map(loadDocClients(...CLIENT_SNIPPETS).clients.map((c) => [c.client_id, c]));
    // Grafana: <root_url>/login/generic_oauth (root_url from the page's grafana.ini).
    const rootUrl = /^root_url = (.+)$/m.exec(snippet('grafana-ini'))![1]!;
    assert.deepEqual(byId.get('grafana')!.redirect_uris, [`${rootUrl}/login/generic_oauth`]);
    // Argo CD: <url>/auth/callback; the CLI: http://localhost:<sso-port, 8085>/auth/callback.
    const argoUrl = /^ {2}url: (.+)$/m.exec(snippet('argocd-cm'))![1]!;
    assert.deepEqual(byId.get('argocd')!.redirect_uris, [`${argoUrl}/auth/callback`]);
    assert.deepEqual(byId.get('argocd')!.post_logout_redirect_uris, [argoUrl.replace(/\/+$/, '')]);
    assert.deepEqual(byId.get('argocd-cli')!.redirect_uris, ['http://localhost:8085/auth/callback']);
    // Harbor: <external URL>/c/oidc/callback; logout returns to <external URL>/account/sign-in.
    assert.deepEqual(byId.get('harbor')!.redirect_uris, ['https://harbor.example.com/c/oidc/callback']);
    assert.deepEqual(byId.get('harbor')!.post_logout_redirect_uris, ['https://harbor.example.com/account/sign-in']);
    // GitLab: the provider's redirect_uri, /users/auth/<provider name>/callback.
    const provider = snippet('gitlab-provider');
    const gitlabRedirect = /redirect_uri: (.+)$/m.exec(provider)![1]!;
    assert.match(gitlabRedirect, /\/users\/auth\/openid_connect\/callback$/);
    assert.deepEqual(byId.get('gitlab')!.redirect_uris, [gitlabRedirect]);
  });

  it('requires PKCE of every confidential client whose consumer sends it, and makes the CLI public', () => {
    const byId = new Map(loadDocClients(...CLIENT_SNIPPETS).clients.map((c) => [c.client_id, c]));
    for (const id of ['grafana', 'argocd', 'harbor', 'gitlab', 'reports']) {
      assert.equal(byId.get(id)!.requirePkce, true, id);
      assert.ok(byId.get(id)!.client_secret, id);
      assert.equal(byId.get(id)!.skipConsent, true, id);
    }
    const cli = byId.get('argocd-cli')!;
    assert.equal(cli.token_endpoint_auth_method, 'none');
    assert.equal(cli.application_type, 'native');
    assert.equal(cli.client_secret, undefined);
  });

  it('cites only sources a reader can open (the reference page names repository, path and commit)', () => {
    const reference = readFileSync(fileURLToPath(new URL('../../docs/reference/consumers.md', import.meta.url)), 'utf8');
    for (const repo of [
      'grafana/grafana',
      'argoproj/argo-cd',
      'goharbor/harbor',
      'omniauth/omniauth_openid_connect',
      'gitlabhq/gitlabhq',
    ]) {
      assert.ok(reference.includes(`https://github.com/${repo}`), repo);
    }
    assert.ok(readFileSync(DOC_PATH, 'utf8').includes('reference/consumers.md'));
  });
});
