/**
 * A fake Alibaba Cloud IDaaS EIAM 1.0 instance (docs/reference/idaas.md): `/oauth/authorize`
 * auto-approves the configured user with a 302 back to the registered redirect_uri (exact match),
 * `/oauth/token` takes a form body and checks client auth, single-use codes bound to their client
 * and redirect_uri, and PKCE, and `/api/bff/v1.2/oauth2/userinfo`
 * answers the wrapped `{success, code, message, data}` shape, to Bearer tokens only.
 * Fault knobs reproduce what real upstreams do wrong.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { HostileRule } from './hostile-answers.js';
import {
  clientAuthOf,
  json,
  redirect,
  registrations,
  s256,
  startHttpDouble,
  type DoubleRequest,
  type Registrations,
  type SeenClientAuth,
} from './http-double.js';

export interface FakeIdaasUser {
  /** IDaaS may send it as a number; the bridge must stringify it. */
  sub: string | number;
  ou_id?: string;
  nickname?: string;
  phone_number?: string;
  ou_name?: string;
  email?: string;
  username?: string;
}

export type FakeIdaasFault =
  | 'deny' // authorize: 302 back with error=access_denied
  | 'authorize_error' // authorize: 302 back with error=server_error
  | 'token_without_access_token' // token: 200 {token_type, expires_in} only
  | 'token_error_body' // token: 200 {error: invalid_grant}
  | 'token_500'
  | 'token_slow' // token: answers after `slowMs`
  | 'userinfo_unsuccessful' // userinfo: 200 {success: false}
  | 'userinfo_500'
  | 'userinfo_slow';

export interface FakeIdaasOptions {
  clientId?: string;
  clientSecret?: string;
  /** What the token endpoint accepts; `any` takes either. Default `any`. */
  clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'any';
  user?: FakeIdaasUser;
  /** Delay of the `*_slow` faults. Default 5000 ms. */
  slowMs?: number;
  /** Registered redirect URIs; more with `addRedirectUri`. */
  redirectUris?: string[];
}

export interface FakeIdaasRequests {
  authorize: URLSearchParams[];
  token: { auth: SeenClientAuth; form: URLSearchParams }[];
  userinfo: { authorization?: string; query: URLSearchParams }[];
}

export interface FakeIdaas extends Pick<Registrations, 'addRedirectUri'> {
  url: string;
  clientId: string;
  clientSecret: string;
  endpoints: { authorizationURL: string; tokenURL: string; userInfoURL: string };
  /** Everything the endpoints received, for assertions (Bearer header, basic vs post). */
  requests: FakeIdaasRequests;
  setUser(user: FakeIdaasUser): void;
  setFault(fault: FakeIdaasFault | undefined): void;
  /** Hostile answers for the requests `rule` picks (test/doubles/hostile-answers.ts). */
  setHostile(rule: HostileRule | undefined): void;
  close(): Promise<void>;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  user: FakeIdaasUser;
  challenge?: string;
}

export const DEFAULT_IDAAS_USER: FakeIdaasUser = {
  sub: 42,
  ou_id: 'ou-1',
  nickname: '张伟',
  phone_number: '13800000000',
  ou_name: '研发中心',
  email: 'zhangwei@example.test',
  username: 'zhangwei',
};

export async function startFakeIdaas(options: FakeIdaasOptions = {}): Promise<FakeIdaas> {
  const clientId = options.clientId ?? 'idaas-client';
  const clientSecret = options.clientSecret ?? 'idaas-secret';
  const accepted = options.clientAuth ?? 'any';
  let user = options.user ?? DEFAULT_IDAAS_USER;
  let fault: FakeIdaasFault | undefined;
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, FakeIdaasUser>();
  const requests: FakeIdaasRequests = { authorize: [], token: [], userinfo: [] };
  const clients = registrations(clientId, options.redirectUris);

  const authorize = (req: DoubleRequest, res: ServerResponse) => {
    requests.authorize.push(req.query);
    const redirectUri = req.query.get('redirect_uri');
    const refusal = clients.refusal(req.query.get('client_id'), redirectUri);
    if (refusal || !redirectUri || req.query.get('response_type') !== 'code') {
      return json(res, 400, { error: 'invalid_request', error_description: refusal ?? 'response_type must be code' });
    }
    const state = req.query.get('state') ?? undefined;
    if (fault === 'deny') return redirect(res, redirectUri, { error: 'access_denied', error_description: 'user denied', state });
    if (fault === 'authorize_error') return redirect(res, redirectUri, { error: 'server_error', state });
    const code = randomBytes(16).toString('hex');
    const challenge = req.query.get('code_challenge') ?? undefined;
    codes.set(code, { clientId, redirectUri, user, challenge });
    return redirect(res, redirectUri, { code, state });
  };

  const token = async (req: DoubleRequest, res: ServerResponse) => {
    const auth = clientAuthOf(req);
    requests.token.push({ auth, form: req.form });
    if (fault === 'token_slow' && !(await double.delay(options.slowMs ?? 5000))) return;
    if (fault === 'token_500') return json(res, 500, { error: 'server_error' });
    const authOk = auth.clientId === clientId && auth.clientSecret === clientSecret && (accepted === 'any' || accepted === auth.method);
    if (!authOk) return json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="idaas"' });
    const issued = codes.get(req.form.get('code') ?? '');
    codes.delete(req.form.get('code') ?? ''); // single use, even when the checks below fail
    if (
      req.form.get('grant_type') !== 'authorization_code' ||
      !issued ||
      issued.clientId !== auth.clientId ||
      issued.redirectUri !== req.form.get('redirect_uri')
    ) {
      return json(res, 400, { error: 'invalid_grant' });
    }
    if (issued.challenge && s256(req.form.get('code_verifier') ?? '') !== issued.challenge)
      return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
    if (fault === 'token_error_body') return json(res, 200, { error: 'invalid_grant', error_description: 'code expired' });
    if (fault === 'token_without_access_token') return json(res, 200, { token_type: 'bearer', expires_in: 1199 });
    const accessToken = randomBytes(16).toString('hex');
    tokens.set(accessToken, issued.user);
    return json(res, 200, {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: 1199,
      refresh_token: randomBytes(8).toString('hex'),
      scope: 'read',
    });
  };

  const userinfo = async (req: DoubleRequest, res: ServerResponse) => {
    requests.userinfo.push({ authorization: req.headers.authorization, query: req.query });
    if (fault === 'userinfo_slow' && !(await double.delay(options.slowMs ?? 5000))) return;
    if (fault === 'userinfo_500') return json(res, 500, { success: false, code: '500', message: 'internal error' });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const owner = bearer === undefined ? undefined : tokens.get(bearer);
    if (!owner) return json(res, 401, { success: false, code: '401', message: 'invalid token' });
    if (fault === 'userinfo_unsuccessful') return json(res, 200, { success: false, code: '1001', message: 'user disabled', data: null });
    return json(res, 200, { success: true, code: '200', message: null, data: { ...owner } });
  };

  const double = await startHttpDouble({
    'GET /oauth/authorize': authorize,
    'POST /oauth/token': token,
    'GET /api/bff/v1.2/oauth2/userinfo': userinfo,
  });
  return {
    url: double.url,
    clientId,
    clientSecret,
    endpoints: {
      authorizationURL: `${double.url}/oauth/authorize`,
      tokenURL: `${double.url}/oauth/token`,
      userInfoURL: `${double.url}/api/bff/v1.2/oauth2/userinfo`,
    },
    requests,
    addRedirectUri: (uri) => clients.addRedirectUri(uri),
    setUser(next) {
      user = next;
    },
    setFault(next) {
      fault = next;
    },
    setHostile: (rule) => double.setHostile(rule),
    close: () => double.close(),
  };
}
