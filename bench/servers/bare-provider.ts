/**
 * The baseline: oidc-provider from the project's node_modules on its own node listener, with its
 * memory adapter on a Map (below), the bridge's signing keys (read from the JWKS file the harness wrote),
 * the bridge's features and the benchmark client, and a trivial interaction that signs one account
 * in and grants what was asked. No bridge code.
 * argv: JSON { port, jwksFile, client }. Prints { url } once listening.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata, type JWK } from 'oidc-provider';

const { port, jwksFile, client } = JSON.parse(process.argv[2]!) as { port: number; jwksFile: string; client: ClientMetadata };
const jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as { keys: JWK[] };
const issuer = `http://127.0.0.1:${port}`;
const ACCOUNT = 'bench-account';

/**
 * oidc-provider's own MemoryAdapter keeps at most 1000 entries (an LRU, lib/adapters/memory_adapter.js),
 * so under load it evicts live codes, tokens and grants and answers errors fast. The baseline gets
 * the same adapter contract on a plain Map instead (expiry checked on read).
 */
const records = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
const byUid = new Map<string, string>();
const byUserCode = new Map<string, string>();
const byGrant = new Map<string, Set<string>>();
class MapAdapter implements Adapter {
  constructor(private readonly name: string) {}
  private key(id: string) {
    return `${this.name}:${id}`;
  }
  async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
    const key = this.key(id);
    records.set(key, { payload, expiresAt: Date.now() + expiresIn * 1000 });
    if (payload.uid) byUid.set(payload.uid, id);
    if (payload.userCode) byUserCode.set(payload.userCode, id);
    if (payload.grantId) {
      let keys = byGrant.get(payload.grantId);
      if (!keys) byGrant.set(payload.grantId, (keys = new Set()));
      keys.add(key);
    }
  }
  async find(id: string) {
    const found = records.get(this.key(id));
    if (!found) return undefined;
    if (found.expiresAt <= Date.now()) {
      records.delete(this.key(id));
      return undefined;
    }
    return found.payload;
  }
  async findByUid(uid: string) {
    const id = byUid.get(uid);
    return id ? this.find(id) : undefined;
  }
  async findByUserCode(userCode: string) {
    const id = byUserCode.get(userCode);
    return id ? this.find(id) : undefined;
  }
  async consume(id: string) {
    const found = records.get(this.key(id));
    if (found) found.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string) {
    records.delete(this.key(id));
  }
  async revokeByGrantId(grantId: string) {
    for (const key of byGrant.get(grantId) ?? []) records.delete(key);
    byGrant.delete(grantId);
  }
}

// The same switches as src/oidc/configuration.ts; pages and policies are oidc-provider's own.
const provider = new Provider(issuer, {
  adapter: MapAdapter,
  jwks,
  clients: [client],
  clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'RS256' },
  responseTypes: ['code'],
  allowOmittingSingleRegisteredRedirectUri: false,
  // The bridge also takes POST at /auth (with its own cookie handling over http); the bench uses GET only.
  pkce: { required: (_ctx, c) => c.clientAuthMethod === 'none' },
  conformIdTokenClaims: false,
  claims: {
    acr: null,
    sid: null,
    auth_time: null,
    iss: null,
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'groups'],
  issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => ({
      sub,
      name: 'Bench User',
      preferred_username: 'bench',
      email: 'bench@example.test',
      email_verified: true,
      groups: ['dingtalk:研发中心', 'dingtalk:研发中心/平台组'],
    }),
  }),
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: true },
    jwtIntrospection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    dPoP: { enabled: false },
  },
  cookies: { keys: ['bench-cookie-secret-0123456789abcdef'] },
});
provider.on('server_error', (_ctx: unknown, err: Error) => process.stderr.write(`server_error: ${err.message}\n`));

/** The trivial interaction: the one account, every requested scope and claim granted, in one step. */
async function interaction(req: Parameters<Provider['interactionDetails']>[0], res: Parameters<Provider['interactionDetails']>[1]) {
  const details = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: details.params.client_id as string });
  grant.addOIDCScope(typeof details.params.scope === 'string' ? details.params.scope : 'openid');
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url?.startsWith('/interaction/')) {
    interaction(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  void callback(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: issuer })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
