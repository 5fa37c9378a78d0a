// The simulated DingTalk: login.dingtalk.com, api.dingtalk.com and oapi.dingtalk.com paths on one app.
export {
  createDingTalkSandbox,
  SANDBOX_DEMO_REDIRECT_URIS,
  type DingTalkSandbox,
  type SandboxListener,
  type SandboxOptions,
} from './create-dingtalk-sandbox.js';
export type { SandboxFault } from './faults.js';
export type { ContactsScope } from './org-directory.js';
export type { SandboxApp } from './sandbox-context.js';
export {
  sampleDeptIds,
  sampleOrganisation,
  sampleUserids,
  SANDBOX_APP_KEY,
  SANDBOX_APP_SECRET,
  SANDBOX_CORP_ID,
  SANDBOX_OTHER_CORP_ID,
  type SandboxDepartment,
  type SandboxOrg,
  type SandboxPerson,
} from './sample-organisation.js';
export { snsSignature } from './sns-routes.js';
export { SANDBOX_APP_COOKIE } from './dingtalk-app.js';
