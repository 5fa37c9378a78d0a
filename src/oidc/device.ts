/**
 * The device authorization grant (RFC 8628; kubelogin's `--grant-type=device-code`) around
 * oidc-provider's `features.deviceFlow`: its verification pages drawn by src/pages, the `interval`
 * it leaves out of the device authorization response, and `slow_down` for a device that polls
 * sooner than that. oidc-provider does the protocol: /device/auth, the user-code lookup and its
 * CSRF token (`xsrf`), single-use device codes, expiry, and the login that follows the person's
 * confirmation, which runs through the same interaction routes as any sign-in.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/code_verification.js
 * @see https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/authorization/device.js
 */
import { createHash } from 'node:crypto';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { DEVICE_CODE_GRANT } from '../config/schema.js';
import type { DeviceForm, DeviceProblem } from '../pages/index.js';
import type { Records } from '../store/types.js';
import { clientNameOf, type PageWriter } from './pages.js';

/**
 * User codes: 8 characters of 20 consonants (no vowels, so no words; none confused with digits),
 * shown in two groups of four (WDJB-MJHT): 20^8 ≈ 2^34.6 codes (RFC 8628 §6.1; docs/security.md, "The device flow").
 */
export const USER_CODE = { charset: 'base-20', mask: '****-****' } as const;

type DeviceFlow = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/** Whether any client may use the grant: the feature (and its discovery entry) is on only then. */
export const deviceFlowWanted = (config: Pick<Config, 'clients'>) => config.clients.some((c) => c.grant_types?.includes(DEVICE_CODE_GRANT));

/**
 * The form fields oidc-provider's /device reads (`xsrf`, `user_code`, `confirm`, `abort`; its
 * lib/helpers/user_code_form.js): drawn by our templates so the pages are localised and need no
 * script. The CSRF token is the one oidc-provider just put into the browser session's state.
 */
function formOf(ctx: KoaContextWithOIDC): DeviceForm {
  const state = ctx.oidc.session?.state as { secret?: unknown } | undefined;
  return { action: ctx.oidc.urlFor('code_verification'), xsrf: typeof state?.secret === 'string' ? state.secret : '' };
}

/** oidc-provider's re-render errors (lib/helpers/re_render_errors.js) and the rest, as what the page tells the person. */
function problemOf(err: (Error & { error?: string; error_description?: string }) | undefined): DeviceProblem | undefined {
  if (!err) return undefined;
  switch (err.name) {
    case 'NoCodeError':
    case 'NotFoundError':
      return 'wrongCode';
    case 'ExpiredError':
      return 'expired';
    case 'AlreadyUsedError':
      return 'used';
    case 'AbortedError':
      return 'aborted';
    default:
      // A missing or wrong CSRF token (lib/shared/xsrf.js): the page was stale or opened elsewhere.
      return err.error === 'invalid_request' && /xsrf|device form/.test(err.error_description ?? err.message) ? 'form' : 'failed';
  }
}

/**
 * The three page sources of `features.deviceFlow`. `formActions`: where the confirm form's
 * redirect chain may lead (POST /device → 303 /interaction/<uid> → the upstream's login page):
 * form-action covers every hop of it (src/pages/page-headers.ts).
 */
export function deviceFlowPages(writer: PageWriter, formActions: () => readonly string[]) {
  const { localeOf, write } = writer;
  const sources: Required<Pick<DeviceFlow, 'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'>> = {
    userCodeInputSource(ctx, _form, out, err) {
      const problem = problemOf(err);
      // A code that was not found is shown again to be corrected; an expired or used one is dead.
      const userCode = problem === 'wrongCode' ? (err as { userCode?: unknown }).userCode : undefined;
      write(ctx, 'deviceInput', {
        form: formOf(ctx),
        locale: localeOf(ctx),
        ...(problem ? { problem } : {}),
        ...(problem === 'failed' && out?.error ? { error: out.error } : {}),
        ...(typeof userCode === 'string' ? { userCode } : {}),
      });
    },
    userCodeConfirmSource(ctx, _form, client, _deviceInfo, userCode) {
      const clientName = client.clientName ?? client.clientId;
      write(ctx, 'deviceConfirm', { form: formOf(ctx), userCode, clientName, locale: localeOf(ctx) }, formActions());
    },
    successSource(ctx) {
      const clientName = clientNameOf(ctx);
      write(ctx, 'deviceSuccess', { locale: localeOf(ctx), ...(clientName ? { clientName } : {}) });
    },
  };
  /** The code-entry page with `userCode` filled in (verification_uri_complete). */
  const codeEntry = (ctx: KoaContextWithOIDC, userCode: string) =>
    write(ctx, 'deviceInput', { form: formOf(ctx), userCode, locale: localeOf(ctx) });
  return { sources, codeEntry };
}

const hashOf = (deviceCode: string) => createHash('sha256').update(deviceCode).digest('base64url');

/**
 * provider.use middleware for the device flow's endpoints:
 * - /device/auth: adds `interval` (RFC 8628 §3.2), which oidc-provider leaves out.
 * - /token with the device grant: a poll sooner than `interval` after the device's previous
 *   accepted poll is answered `slow_down` instead of `authorization_pending` (§3.5). Only pending
 *   polls are timed (`dpoll:<sha256(device_code)>`, never the code itself), so an approved code is
 *   never held back; a `slow_down` does not restart the window, so a device that keeps its pace
 *   is never locked out.
 * - GET /device?user_code=… (verification_uri_complete): oidc-provider answers with a page that
 *   posts the code by script, which the page CSP forbids; the code-entry page with the code filled
 *   in is shown instead, and the person continues to the confirmation with one click.
 */
export function deviceFlowMiddleware(deps: { records: Records; interval: number; pages: ReturnType<typeof deviceFlowPages> }) {
  const { records, interval, pages } = deps;
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    try {
      await next();
    } catch (err) {
      if (!restartStaleForm(ctx)) throw err;
      return;
    }
    const route = ctx.oidc?.route;
    if (route === 'device_authorization' && ctx.status === 200 && isObject(ctx.body)) {
      ctx.body = { ...ctx.body, interval };
    } else if (route === 'token' && ctx.status === 400 && isObject(ctx.body) && ctx.body.error === 'authorization_pending') {
      const deviceCode = ctx.oidc.params?.device_code;
      if (typeof deviceCode !== 'string') return;
      let first: boolean;
      try {
        first = await records.add(`dpoll:${hashOf(deviceCode)}`, 1, interval);
      } catch {
        return; // store down: the pending answer stands
      }
      if (!first) {
        const slowDown = new errors.SlowDown();
        ctx.body = { error: slowDown.error, error_description: slowDown.error_description };
      }
    } else if (route === 'code_verification' && ctx.method === 'GET' && ctx.status === 200) {
      const userCode = ctx.oidc.params?.user_code;
      if (typeof userCode !== 'string' || !userCode) return;
      pages.codeEntry(ctx, userCode);
    }
  };
}

/**
 * A POST to /device from a browser without a stored session (no cookie, or one that expired):
 * oidc-provider re-renders the form with a fresh CSRF token kept in that new session, then fails
 * to save it (`Session#persist` throws for a session never stored: lib/helpers/initialize_app.js,
 * ensureSessionSave, at v9.13.3) and would answer 500. The form is sent again from a GET instead,
 * which stores the session, with the code kept when it looks like one.
 */
function restartStaleForm(ctx: KoaContextWithOIDC): boolean {
  const session = ctx.oidc?.session;
  if (ctx.oidc?.route !== 'code_verification' || ctx.method !== 'POST' || !session || typeof session.exp === 'number') return false;
  const target = new URL(ctx.oidc.urlFor('code_verification'));
  const userCode = ctx.oidc.params?.user_code;
  if (typeof userCode === 'string' && /^[A-Za-z-]{1,20}$/.test(userCode)) target.searchParams.set('user_code', userCode);
  ctx.set('cache-control', 'no-store');
  ctx.redirect(target.href);
  ctx.status = 303;
  return true;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Buffer.isBuffer(value);
