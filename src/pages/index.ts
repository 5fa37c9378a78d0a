/**
 * Page rendering, shared by the interaction routes (src/interactions), the pages oidc-provider
 * shows (src/oidc/pages.ts) and the server's error answers (src/server/error-handler.ts):
 * templates, messages, the one language negotiation, and the headers every page carries.
 * Knows nothing of express at run time, of oidc-provider, or of the interactions.
 */
export {
  createPages,
  findViewsDir,
  plainPages,
  escapeHtml,
  PAGE_NAMES,
  DEVICE_PROBLEMS,
  STYLESHEET,
  type DeviceForm,
  type DeviceProblem,
  type PageName,
  type Pages,
  type ProtocolPages,
  type ScriptName,
} from './pages.js';
export { IN_APP_SCRIPT, JSAPI_SCRIPT, type Asset } from './scripts.js';
export {
  negotiateLocale,
  matchLocale,
  parseAcceptLanguage,
  localized,
  SUPPORTED_LOCALES,
  type Locale,
  type LocaleInputs,
} from './locale.js';
export { loadMessages, interpolate, spaceHanLatin, messageKeys, type Messages, type Params, type Translate } from './messages.js';
export {
  pageHeaders,
  applyPageHeaders,
  clientFormActions,
  formActionSource,
  type PageHeaderOptions,
  type RedirectingClient,
} from './page-headers.js';
