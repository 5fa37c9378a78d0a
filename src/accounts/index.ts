export * from './types.js';
export * from './errors.js';
export { createAccounts, type AccountsDeps } from './accounts.js';
export { claimsFor, shapeGroups, DINGTALK_CLAIMS } from './claims.js';
export { subjectFor } from './subject.js';
export {
  USERNAME_MAX_LENGTH,
  USERNAME_PATTERN,
  isValidUsername,
  normaliseUsername,
  pinyinOf,
  hashUsername,
  usernameCandidates,
  usernamePolicy,
  unvouchedUpstreamsOf,
  type UsernameCandidates,
  usernameProblem,
  type UsernamePolicy,
  type UsernamesConfig,
} from './usernames.js';
