/**
 * Presets for the oauth2 upstream type. `aliyun-idaas` is Alibaba Cloud IDaaS EIAM 1.0
 * (`https://<id>.login.aliyunidaas.com`), the variant KubeSphere's AliyunIDaaSProvider targets.
 * EIAM 2.0 is plain OIDC: use `type: oidc` with its issuer instead.
 * @see docs/reference/idaas.md (and KubeSphere's aliyunidaas/idaas.go, docs/reference/kubernetes.md)
 */
import type { ResolvedClaimMap } from '../claims.js';
import { isObject } from '../fetch-json.js';
import { UpstreamError } from '../types.js';

export interface OAuth2Preset {
  /** Paths appended to the preset's `baseURL`. */
  paths: { authorization: string; token: string; userInfo: string };
  scope: string;
  claims: ResolvedClaimMap;
  /** Whether the upstream vouches for the emails it returns (when no `emailVerified` path is mapped). */
  emailVerified: boolean;
  /** Whether the server is known to verify PKCE; the `pkce` default for this preset. */
  pkce: boolean;
  /** Throws UpstreamError when a 200 userinfo body still means "no". */
  checkUserInfo?: (upstream: string, body: Record<string, unknown>) => void;
}

export const OAUTH2_PRESETS = {
  'aliyun-idaas': {
    paths: { authorization: '/oauth/authorize', token: '/oauth/token', userInfo: '/api/bff/v1.2/oauth2/userinfo' },
    scope: 'read',
    claims: {
      subject: 'data.sub',
      name: 'data.nickname',
      email: 'data.email',
      username: 'data.username',
      phoneNumber: 'data.phone_number',
    },
    // UNVERIFIED whether EIAM 1.0 verifies emails (they are synced or admin-entered): assume not.
    emailVerified: false,
    // EIAM 1.0's documented authorize and token requests carry no PKCE (docs/reference/idaas.md),
    // and KubeSphere's connector sends none: off until the operator knows the instance takes it.
    pkce: false,
    checkUserInfo: checkIdaasWrapper,
  },
} as const satisfies Record<string, OAuth2Preset>;

export type OAuth2PresetName = keyof typeof OAUTH2_PRESETS;

/**
 * EIAM 1.0 wraps userinfo as `{success, code, message, data}` and may answer HTTP 200 with
 * `success: false`; KubeSphere checks only `success`. Anything but `true` fails closed.
 */
function checkIdaasWrapper(upstream: string, body: Record<string, unknown>): void {
  if (body.success === true && isObject(body.data)) return;
  const code = typeof body.code === 'string' || typeof body.code === 'number' ? String(body.code).slice(0, 32) : 'none';
  const message = typeof body.message === 'string' ? `: ${body.message.slice(0, 200)}` : '';
  throw new UpstreamError(upstream, 'failed', `IDaaS userinfo answered success=${String(body.success)} (code ${code})${message}`, {
    code: 'userinfo_unsuccessful',
  });
}
