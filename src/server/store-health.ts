import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Store, StoreHealth } from '../store/types.js';

/**
 * Store health as a log line on every change (the first included: a store unreachable from the
 * start is logged with the connection's error) and, with a registry, the gauge `oidc_bridge_store_up`.
 */
export function watchStoreHealth(store: Store, log: Logger, registry?: Registry): void {
  let last: StoreHealth | undefined;
  store.onHealthChange((health, cause) => {
    if (health === 'up') log.info({ store: store.kind, health }, last === 'down' ? 'store reachable again' : 'store reachable');
    else
      log.warn(
        { store: store.kind, health, ...(cause === undefined ? {} : { err: cause }) },
        'store unreachable: protocol endpoints answer 503 until it is back',
      );
    last = health;
  });
  if (!registry || registry.getSingleMetric('oidc_bridge_store_up')) return;
  new Gauge({
    name: 'oidc_bridge_store_up',
    help: '1 while the session store is reachable, 0 while it is not',
    registers: [registry],
    collect() {
      this.set(store.health() === 'up' ? 1 : 0);
    },
  });
}
