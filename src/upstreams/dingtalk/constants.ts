/**
 * DingTalk endpoints, codes and cache settings. Facts: docs/reference/dingtalk.md (login, organisation lookups,
 * rate limits and token caching), each with DingTalk's own page.
 */

/** Paths below `endpoints.api` (api.dingtalk.com, v1.0: JSON bodies, camelCase, non-2xx errors). */
export const API = {
  // https://open.dingtalk.com/document/orgapp/obtain-user-token
  userAccessToken: '/v1.0/oauth2/userAccessToken',
  // https://open.dingtalk.com/document/orgapp/dingtalk-retrieve-user-information
  usersMe: '/v1.0/contact/users/me',
  // https://open.dingtalk.com/document/orgapp/obtain-the-access-token-of-an-internal-app
  appAccessToken: '/v1.0/oauth2/accessToken',
} as const;

/** Paths below `endpoints.oapi` (oapi.dingtalk.com: HTTP 200 with `errcode`, `?access_token=` in the query). */
export const OAPI = {
  // https://open.dingtalk.com/document/orgapp/query-a-user-by-the-union-id
  getByUnionId: '/topapi/user/getbyunionid',
  // https://open.dingtalk.com/document/orgapp/query-user-details
  userGet: '/topapi/v2/user/get',
  // https://open.dingtalk.com/document/orgapp/query-department-details0-v2
  departmentGet: '/topapi/v2/department/get',
  // https://open.dingtalk.com/document/orgapp/queries-the-list-of-all-parent-departments-of-a-user
  listParentByUser: '/topapi/v2/department/listparentbyuser',
  // https://open.dingtalk.com/document/orgapp/obtain-the-userid-of-a-user-by-using-the-log-free
  inAppUserInfo: '/topapi/v2/user/getuserinfo',
  // https://open.dingtalk.com/document/development/obtain-the-user-information-based-on-the-sns-temporary-authorization
  snsUserInfoByCode: '/sns/getuserinfo_bycode',
} as const;

/**
 * The DingTalk client's user agent carries `DingTalk` (e.g. `AliApp(DingTalk/7.0.50)`); the
 * dingtalk-jsapi package tests the same (`/DingTalk/i`, dingtalk-jsapi/lib/env.js).
 */
export const DINGTALK_CLIENT_UA = /DingTalk/i;

/** The legacy QR login's fixed scope (connect/qrconnect). */
export const LEGACY_SNS_SCOPE = 'snsapi_login';

/** The header that carries v1.0 tokens (not `Authorization: Bearer`). */
export const TOKEN_HEADER = 'x-acs-dingtalk-access-token';

/** `openid` yields the unionId; `corpid` makes the token answer carry the organisation the person chose. */
export const LOGIN_SCOPE = 'openid corpid';

/** oapi `errcode`s the bridge branches on (docs/reference/dingtalk.md). */
export const ERRCODE = {
  busy: -1,
  authFailed: 88,
  invalidToken: 40014,
  codeNotFound: 40078,
  badAppCredentials: 40096,
  invalidUserid: 33012,
  deptNotFound: 60003,
  outOfContactsScope: 60011,
  ipNotAllowed: 60020,
  notFound: 60121,
  rateGlobal: 90002,
  rateApp: 90018,
  rateCorp: 90019,
} as const;

/** The root department (the organisation itself): never a group of its own. */
export const ROOT_DEPT_ID = 1;

/** DingTalk's `contact_type` for an internal employee; 1 is an external contact (docs/reference/dingtalk.md). */
export const INTERNAL_EMPLOYEE = 0;

/** Department names and parents change rarely; 10 minutes bounds how long a rename takes to show. */
export const DEPT_CACHE_TTL_SECONDS = 600;

/**
 * The app token lives 7200 s and repeated fetches inside that window return the same token (docs/reference/dingtalk.md);
 * DingTalk throttles frequent fetches. It is dropped from the cache this long before it expires,
 * so a lookup never presents a token that is about to die.
 */
export const APP_TOKEN_EARLY_RENEW_SECONDS = 300;

/** How often a replica that lost the race for the app-token lock looks for the winner's token. */
export const APP_TOKEN_POLL_MS = 25;

export const appTokenKey = (appKey: string): string => `dingtalk:apptoken:${appKey}`;
export const appTokenLockName = (appKey: string): string => `dingtalk:apptoken:${appKey}`;
export const deptKey = (scope: string, deptId: number): string => `dingtalk:dept:${scope}:${deptId}`;
