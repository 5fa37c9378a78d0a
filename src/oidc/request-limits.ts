/**
 * Size caps of an authorization request (`requestLimits`). oidc-provider keeps only the parameters
 * it knows and stores them as an Interaction before anyone has signed in; these caps bound what an
 * anonymous request can make the store hold.
 *
 * They run as an `extraParams` validator: the one hook oidc-provider calls after every parameter
 * is assembled (GET query or POST body alike) and before the Interaction is saved, see
 * https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/actions/authorization/index.js
 * (`checkExtraParams` comes before `interactions`).
 */
import { errors } from 'oidc-provider';
import type { Config } from '../config/schema.js';

/**
 * Verified by oidc-provider before the caps run (`checkIdTokenHint`): only an ID token this bridge
 * signed passes, and its size is ours to bound (`clients[].groups.max`), not the requester's.
 */
const UNCAPPED = new Set(['id_token_hint']);

const bytes = (value: unknown) => Buffer.byteLength(Array.isArray(value) ? value.join('') : String(value));

/** Throws `invalid_request` when a parameter, or all of them together, exceed `requestLimits`. */
export function checkParameterSizes(params: object, limits: Config['requestLimits']): void {
  let total = 0;
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || UNCAPPED.has(name)) continue;
    const size = bytes(value);
    if (size > limits.maxParameterBytes) {
      throw new errors.InvalidRequest(`${name} is longer than ${limits.maxParameterBytes} bytes`);
    }
    total += Buffer.byteLength(name) + size;
  }
  if (total > limits.maxAuthorizationRequestBytes) {
    throw new errors.InvalidRequest(`the authorization request is longer than ${limits.maxAuthorizationRequestBytes} bytes`);
  }
}
