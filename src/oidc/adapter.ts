import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { ModelStore, Payload, Store } from '../store/types.js';
import { viaProvider } from './errors.js';

/**
 * Expired device codes are kept this much longer: a device polling with one is told
 * `expired_token` (RFC 8628 §3.5) and a person entering its user code is told it expired, instead
 * of both getting "not found" the moment the record's TTL ends. oidc-provider checks the expiry
 * itself (`isExpired`), so a kept code is never accepted.
 */
export const EXPIRED_DEVICE_CODE_KEPT_SECONDS = 600;

/**
 * oidc-provider's Adapter (a class constructed with the model name) over the store's ModelStore.
 * Store failures are translated where the provider sees them: an outage is a 503
 * `temporarily_unavailable`, the loser of a `consume()` race an `invalid_grant`, so N parallel
 * redemptions of one code give one 200 and N-1 `invalid_grant`, never a 500.
 */
export function createAdapter(store: Store): AdapterConstructor {
  return class StoreAdapter implements Adapter {
    readonly #model: ModelStore;

    constructor(readonly name: string) {
      this.#model = store.model(name);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      // expiresIn is absent for models kept until destroyed; the store treats undefined as "no TTL".
      const ttl = this.name === 'DeviceCode' && expiresIn !== undefined ? expiresIn + EXPIRED_DEVICE_CODE_KEPT_SECONDS : expiresIn;
      await viaProvider(() => this.#model.upsert(id, payload as Payload, ttl as number));
    }

    find(id: string): Promise<AdapterPayload | undefined> {
      return viaProvider(() => this.#model.find(id));
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return viaProvider(() => this.#model.findByUserCode(userCode));
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return viaProvider(() => this.#model.findByUid(uid));
    }

    consume(id: string): Promise<void> {
      return viaProvider(() => this.#model.consume(id));
    }

    destroy(id: string): Promise<void> {
      return viaProvider(() => this.#model.destroy(id));
    }

    revokeByGrantId(grantId: string): Promise<void> {
      return viaProvider(() => this.#model.revokeByGrantId(grantId));
    }
  };
}
