import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, type InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ClientExtras } from './clients.js';
import { scopeClaimsConfig, SCOPES } from './scopes.js';
import { InteractionExpiredError, type InteractionView, type LoginResult } from './interaction-view.js';

export { InteractionExpiredError, type InteractionView, type LoginResult };

export interface InteractionApi {
  /**
   * For /interaction/:uid pages: the interaction named by the request's interaction cookie, which
   * must also be `uidFromUrl` (oidc-provider does not compare them). Throws InteractionExpiredError.
   */
  get(req: IncomingMessage, res: ServerResponse, uidFromUrl: string): Promise<InteractionView>;
  /** By uid alone, for upstream callbacks (the interaction cookie is scoped to /interaction/<uid>). */
  find(uid: string): Promise<InteractionView | undefined>;
  /** Records the login; returns the URL to answer 303 with. Throws InteractionExpiredError. */
  finishLogin(uid: string, login: LoginResult): Promise<string>;
  /** Grants what the consent prompt found missing (offline_access included); returns the 303 URL. */
  finishConsent(uid: string): Promise<string>;
  /** Ends the authorization request with an OAuth error to the client (access_denied, invalid_request …). */
  finishError(uid: string, error: string, description?: string): Promise<string>;
  clientExtras(clientId: string): ClientExtras | undefined;
}

type StoredInteraction = InstanceType<Provider['Interaction']>;

const epochNow = () => Math.floor(Date.now() / 1000);
const stringArray = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** The interaction facade: the interactions module never imports oidc-provider. */
export function createInteractionApi(provider: Provider, extrasOf: (clientId: string) => ClientExtras | undefined): InteractionApi {
  async function view(interaction: StoredInteraction): Promise<InteractionView> {
    const clientId = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : '';
    const details = (interaction.prompt.details ?? {}) as Record<string, unknown>;
    const result: InteractionView = {
      uid: interaction.uid,
      prompt: interaction.prompt.name as 'login' | 'consent',
      reasons: [...interaction.prompt.reasons],
      clientId,
      params: { ...interaction.params },
      missingScopes: stringArray(details.missingOIDCScope),
      missingClaims: stringArray(details.missingOIDCClaims),
      returnTo: interaction.returnTo,
      expiresAt: interaction.exp,
    };
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    const clientName = client?.clientName ?? extrasOf(clientId)?.clientName;
    if (clientName) result.clientName = clientName;
    if (interaction.session?.accountId) {
      const session = interaction.session.uid ? await provider.Session.findByUid(interaction.session.uid) : undefined;
      result.session =
        session?.loginTs === undefined
          ? { accountId: interaction.session.accountId }
          : { accountId: interaction.session.accountId, loginTs: session.loginTs };
    }
    return result;
  }

  async function load(uid: string): Promise<StoredInteraction> {
    const interaction = await provider.Interaction.find(uid);
    if (!interaction || interaction.exp - epochNow() <= 0) throw new InteractionExpiredError();
    return interaction;
  }

  /** What the provider's own interactionResult does, but by uid (works on upstream callback URLs). */
  async function finish(uid: string, result: InteractionResults, merge: boolean): Promise<string> {
    return finishLoaded(await load(uid), result, merge);
  }

  async function finishLoaded(interaction: StoredInteraction, result: InteractionResults, merge: boolean): Promise<string> {
    interaction.result = merge ? { ...interaction.lastSubmission, ...result } : result;
    const remaining = interaction.exp - epochNow();
    if (remaining <= 0) throw new InteractionExpiredError();
    await interaction.save(remaining);
    return interaction.returnTo;
  }

  async function consentGrant(interaction: StoredInteraction): Promise<string> {
    const accountId = interaction.session?.accountId ?? interaction.lastSubmission?.login?.accountId;
    if (!accountId) throw new InteractionExpiredError('no signed-in account for this consent');
    const grant =
      (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
      new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    const details = (interaction.prompt.details ?? {}) as Record<string, unknown>;
    const scopes = stringArray(details.missingOIDCScope);
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = stringArray(details.missingOIDCClaims);
    if (claims.length) grant.addOIDCClaims(claims);
    for (const [indicator, list] of Object.entries((details.missingResourceScopes ?? {}) as Record<string, unknown>)) {
      grant.addResourceScope(indicator, stringArray(list).join(' '));
    }
    return grant.save();
  }

  /**
   * A first-party client's (`skipConsent`) grant, given with the login: what it asked for (its
   * scopes, and the claims of a `claims` parameter), so oidc-provider finds the grant when it
   * resumes and raises no consent prompt. That is the engine's own way of skipping consent
   * (https://github.com/panva/node-oidc-provider/blob/v9.13.3/docs/README.md#user-flows, a login
   * result with `consent.grantId`), and it saves the browser the consent round trip (two requests).
   * Whatever the grant does not cover still raises the prompt, which the consent step grants
   * without a page (src/interactions/consent-prompt.ts).
   */
  async function firstPartyGrant(interaction: StoredInteraction, accountId: string): Promise<string | undefined> {
    const clientId = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : '';
    if (!clientId || !extrasOf(clientId)?.skipConsent) return undefined;
    // The browser session's grant for this client, when the same person signs in again.
    const existing =
      interaction.grantId && interaction.session?.accountId === accountId ? await provider.Grant.find(interaction.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId });
    // Scopes the bridge serves only: oidc-provider leaves unknown ones in the request, and the
    // code's scope is made from the grant, so an unknown scope granted here would reach the tokens.
    const scopes =
      typeof interaction.params.scope === 'string' ? interaction.params.scope.split(' ').filter((x) => KNOWN_SCOPES.has(x)) : [];
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = requestedClaims(interaction.params.claims);
    if (claims.length) grant.addOIDCClaims(claims);
    return grant.save();
  }

  const guarded =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof errors.SessionNotFound) throw new InteractionExpiredError();
        throw unwrap(err);
      }
    };

  return {
    get: guarded(async (req, res, uidFromUrl) => {
      const interaction = await provider.interactionDetails(req, res);
      if (interaction.uid !== uidFromUrl) throw new InteractionExpiredError();
      return view(interaction);
    }),
    find: guarded(async (uid) => {
      const interaction = await provider.Interaction.find(uid);
      return interaction ? view(interaction) : undefined;
    }),
    finishLogin: guarded(async (uid, login) => {
      const interaction = await load(uid);
      const grantId = await firstPartyGrant(interaction, login.accountId);
      return finishLoaded(
        interaction,
        {
          login: {
            accountId: login.accountId,
            ...(login.amr ? { amr: login.amr } : {}),
            ...(login.acr ? { acr: login.acr } : {}),
            remember: login.remember ?? true,
            ts: login.authTime ?? epochNow(),
          },
          ...(grantId ? { consent: { grantId } } : {}),
        },
        true,
      );
    }),
    finishConsent: guarded(async (uid) => {
      const interaction = await load(uid);
      const grantId = await consentGrant(interaction);
      return finishLoaded(interaction, { consent: { grantId } }, true);
    }),
    finishError: guarded(async (uid, error, description) =>
      finish(
        uid,
        {
          error,
          ...(description ? { error_description: description } : {}),
        },
        false,
      ),
    ),
    clientExtras: (clientId) => extrasOf(clientId),
  };
}

const KNOWN_SCOPES: ReadonlySet<string> = new Set(SCOPES);
/** `claims_supported`: what oidc-provider itself keeps of a `claims` parameter. */
const KNOWN_CLAIMS: ReadonlySet<string> = new Set(Object.entries(scopeClaimsConfig()).flatMap(([name, claims]) => claims ?? [name]));

/**
 * The claim names a `claims` request parameter (OIDC Core §5.5, kept as JSON text in the
 * interaction's params) asks for, as oidc-provider reads it: supported claims whose request is
 * null or an object.
 */
function requestedClaims(parameter: unknown): string[] {
  if (typeof parameter !== 'string') return [];
  try {
    const parsed = JSON.parse(parameter) as { userinfo?: unknown; id_token?: unknown };
    const names = (member: unknown) =>
      member && typeof member === 'object'
        ? Object.entries(member)
            .filter(([name, request]) => KNOWN_CLAIMS.has(name) && (request === null || typeof request === 'object'))
            .map(([name]) => name)
        : [];
    return [...new Set([...names(parsed.userinfo), ...names(parsed.id_token)])];
  } catch {
    return [];
  }
}

/**
 * The adapter turns a StoreUnavailableError into the provider's 503; callers of this facade are
 * express routes, whose error handler knows the store's own error: hand that back.
 */
function unwrap(err: unknown): unknown {
  if (err instanceof errors.OIDCProviderError && err.statusCode === 503 && err.cause) return err.cause;
  return err;
}
