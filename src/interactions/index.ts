/** The interactions module: express routes for login, upstream legs, consent, abort, and the pages. */
export { createInteractionRouter, type InteractionRouterDeps } from './interaction-router.js';
export { createPages, findViewsDir, PAGE_NAMES, type PageName, type Pages } from './pages.js';
export { negotiateLocale, matchLocale, SUPPORTED_LOCALES, type Locale } from './locale.js';
export { outcomeFor, type Outcome } from './outcome.js';
export { pageHeaders, clientFormActions, formActionSource } from './page-headers.js';
export { createLegStore, type UpstreamLegs, type Leg, type LegStart } from './leg-store.js';
export { RECHECK_DUE } from './login-prompt.js';
export type { InteractionPort, InteractionView, ClientExtras, UpstreamsPort, AccountsPort } from './ports.js';
