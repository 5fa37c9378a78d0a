// Grafana's generic OAuth against real tokens from the bridge, with the grafana.ini of
// docs/connect-your-tools.md: the endpoints it is given (Grafana reads no discovery), and the user
// Grafana would make of the ID token and userinfo, evaluated the way
// pkg/login/social/connectors/generic_oauth.go and social_base.go do (docs/reference/consumers.md):
// JMESPath (Community edition, as Grafana's go-jmespath) over the decoded JSON, the first source
// that yields a value wins, "GrafanaAdmin" means Admin plus the server-admin flag, no email refuses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { search } from '@jmespath-community/jmespath';
import type { JSONValue } from '@jmespath-community/jmespath';
import { sampleUserids } from '../../src/sandbox/index.js';
import { startBridge, type DingTalkBridge } from '../helpers/bridge.js';
import { DOC_ISSUER, docClient, jwtPayload, parseIni, snippet } from './doc-snippets.js';

type Claims = Record<string, unknown>;

interface GrafanaUser {
  id: string;
  login: string;
  name: string;
  email: string;
  role: string;
  isGrafanaAdmin?: boolean;
  groups: string[];
}

const ROLES = ['Viewer', 'Editor', 'Admin', 'None'];

/** Grafana's SearchJSONForStringAttr: a value that is not a string is no value. */
function searchString(path: string | undefined, data: Claims): string {
  if (!path) return '';
  const value = search(data as JSONValue, path);
  return typeof value === 'string' ? value : '';
}

function searchStrings(path: string | undefined, data: Claims): string[] {
  if (!path) return [];
  const value = search(data as JSONValue, path);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** What Grafana makes of the claim sources (ID token first, then api_url), or why it refuses. */
function grafanaUser(settings: Record<string, string>, sources: Claims[]): GrafanaUser | { refused: string } {
  const user: GrafanaUser = { id: '', login: '', name: '', email: '', role: '', groups: [] };
  for (const data of sources) {
    user.id ||= typeof data.sub === 'string' ? data.sub : '';
    user.name ||= searchString(settings.name_attribute_path, data) || (data.name as string) || (data.display_name as string) || '';
    user.login ||= (data.login as string) || searchString(settings.login_attribute_path, data) || (data.username as string) || '';
    user.email ||= (data.email as string) || searchString(settings.email_attribute_path, data) || '';
    if (!user.role && settings.skip_org_role_sync !== 'true' && settings.role_attribute_path) {
      const found = searchString(settings.role_attribute_path, data);
      if (found.toLowerCase() === 'grafanaadmin') {
        user.role = 'Admin';
        if (settings.allow_assign_grafana_admin === 'true') user.isGrafanaAdmin = true;
      } else if (found) {
        const titled = found.charAt(0).toUpperCase() + found.slice(1).toLowerCase();
        if (!ROLES.includes(titled)) return { refused: `invalid role: ${found}` };
        user.role = titled;
      }
    }
    if (user.groups.length === 0) user.groups = searchStrings(settings.groups_attribute_path, data);
  }
  if (!user.role) {
    if (settings.role_attribute_strict === 'true') return { refused: 'idP did not return a role attribute' };
    user.role = 'Viewer';
  }
  user.login ||= user.email;
  const allowed = (settings.allowed_groups ?? '').split(/[\s,]+/).filter(Boolean);
  if (allowed.length > 0 && !allowed.some((g) => user.groups.includes(g))) return { refused: 'missing group membership' };
  if (!user.email) return { refused: "Provider didn't return an email address" };
  return user;
}

describe('Grafana generic OAuth with the documented settings', () => {
  let fb: DingTalkBridge;
  const ini = parseIni(snippet('grafana-ini'));
  const settings = ini['auth.generic_oauth']!;
  const scope = settings.scopes!;

  before(async () => {
    fb = await startBridge({ upstream: 'dingtalk', store: 'memory', clients: [docClient('grafana-client', 'grafana')] });
  });
  after(async () => {
    await fb?.close();
  });

  /** A login as Grafana makes it (PKCE, the ini's scopes), then its two claim sources. */
  async function claimSources(userid: string): Promise<{ idToken: Claims; userinfo: Claims }> {
    const login = await fb.loginAs(userid, 'grafana', { scope, pkce: true });
    const tokens = await fb.tokens(login);
    assert.ok(tokens.id_token, 'Grafana reads the id_token of the token response');
    const apiUrl = settings.api_url!.replace(DOC_ISSUER, fb.issuer);
    const me = await fetch(apiUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 200);
    return { idToken: jwtPayload(tokens.id_token), userinfo: (await me.json()) as Claims };
  }

  it('is given the endpoints discovery advertises (Grafana does not read discovery)', async () => {
    const discovery = (await (await fetch(`${fb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const onBridge = (url: string) => url.replace(DOC_ISSUER, fb.issuer);
    assert.equal(onBridge(settings.auth_url!), discovery.authorization_endpoint);
    assert.equal(onBridge(settings.token_url!), discovery.token_endpoint);
    assert.equal(onBridge(settings.api_url!), discovery.userinfo_endpoint);
    assert.equal(
      new URL(onBridge(settings.signout_redirect_url!)).origin + new URL(onBridge(settings.signout_redirect_url!)).pathname,
      discovery.end_session_endpoint,
    );
    // Grafana adds id_token_hint only when the URL carries post_logout_redirect_uri, which must be registered.
    const postLogout = new URL(settings.signout_redirect_url!).searchParams.get('post_logout_redirect_uri');
    assert.deepEqual(fb.config.clients[0]!.post_logout_redirect_uris, [postLogout]);
    assert.equal(ini.server!.root_url + '/login', postLogout);
    assert.equal(settings.use_pkce, 'true');
  });

  it('maps 研发中心/平台组 to GrafanaAdmin: organisation Admin and server administrator', async () => {
    const { idToken, userinfo } = await claimSources(sampleUserids.wangFangPlatform);
    const user = grafanaUser(settings, [idToken, userinfo]);
    assert.ok(!('refused' in user), JSON.stringify(user));
    assert.equal(user.role, 'Admin');
    assert.equal(user.isGrafanaAdmin, true);
    assert.ok(user.groups.includes('dingtalk:研发中心/平台组'), user.groups.join());
    // The login is preferred_username (no `login` claim), the id is sub, the email the org email.
    assert.equal(user.login, idToken.preferred_username);
    assert.equal(user.id, idToken.sub);
    assert.equal(user.email, idToken.email);
    assert.equal(idToken.email_verified, true);
  });

  it('maps the rest of 研发中心 to Editor and everyone else to Viewer', async () => {
    const manager = await claimSources(sampleUserids.manager);
    const editor = grafanaUser(settings, [manager.idToken, manager.userinfo]);
    assert.ok(!('refused' in editor));
    assert.equal(editor.role, 'Editor');
    assert.equal(editor.isGrafanaAdmin, undefined);

    const marketing = await claimSources(sampleUserids.wangFangMarketing);
    const viewer = grafanaUser(settings, [marketing.idToken, marketing.userinfo]);
    assert.ok(!('refused' in viewer));
    assert.equal(viewer.role, 'Viewer');
    assert.ok(
      viewer.groups.every((g) => g.startsWith('dingtalk:')),
      viewer.groups.join(),
    );
    // Two people named 王芳: Grafana keeps them apart by sub and login.
    const platform = await claimSources(sampleUserids.wangFangPlatform);
    const admin = grafanaUser(settings, [platform.idToken, platform.userinfo]);
    assert.ok(!('refused' in admin));
    assert.equal(admin.name, viewer.name);
    assert.notEqual(admin.login, viewer.login);
    assert.notEqual(admin.id, viewer.id);
  });

  it('puts every claim Grafana reads in the ID token, so userinfo is only a second source', async () => {
    const { idToken, userinfo } = await claimSources(sampleUserids.wangFangPlatform);
    assert.deepEqual(grafanaUser(settings, [idToken]), grafanaUser(settings, [idToken, userinfo]));
    assert.equal(userinfo.sub, idToken.sub);
    assert.deepEqual(userinfo.groups, idToken.groups);
  });

  it('refuses a person without a verified email, as the page warns', async () => {
    const { idToken, userinfo } = await claimSources(sampleUserids.noEmail);
    assert.equal(idToken.email, undefined);
    assert.deepEqual(grafanaUser(settings, [idToken, userinfo]), { refused: "Provider didn't return an email address" });
  });

  it("refuses people outside the listed departments with role_attribute_strict and no final 'Viewer'", async () => {
    assert.match(settings.role_attribute_path!, / \|\| 'Viewer'$/);
    const strict = {
      ...settings,
      role_attribute_path: settings.role_attribute_path!.replace(/ \|\| 'Viewer'$/, ''),
      role_attribute_strict: 'true',
    };
    const outside = await claimSources(sampleUserids.wangFangMarketing);
    assert.deepEqual(grafanaUser(strict, [outside.idToken, outside.userinfo]), { refused: 'idP did not return a role attribute' });
    const inside = await claimSources(sampleUserids.manager);
    const editor = grafanaUser(strict, [inside.idToken, inside.userinfo]);
    assert.ok(!('refused' in editor));
    assert.equal(editor.role, 'Editor');
  });

  it('admits only the listed groups with allowed_groups, as the page suggests', async () => {
    const restricted = { ...settings, allowed_groups: 'dingtalk:研发中心' };
    const inside = await claimSources(sampleUserids.manager);
    assert.ok(!('refused' in grafanaUser(restricted, [inside.idToken, inside.userinfo])));
    const outside = await claimSources(sampleUserids.wangFangMarketing);
    assert.deepEqual(grafanaUser(restricted, [outside.idToken, outside.userinfo]), { refused: 'missing group membership' });
  });
});
