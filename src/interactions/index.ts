/** The interactions module: the express routes for login, upstream legs, consent and abort. */
export { createInteractionRouter, type InteractionRouterDeps } from './interaction-router.js';
export type { LoginMetrics, LoginOutcome } from './context.js';
export type { InteractionPort, InteractionView, ClientExtras, UpstreamsPort, AccountsPort, MembershipPort } from './ports.js';
