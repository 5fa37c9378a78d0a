import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';

/** Store health as a log line on every change and, with a registry, the gauge `oidc_bridge_store_up`. */
export function watchStoreHealth(store: Store, log: Logger, registry?: Registry): void {
  store.onHealthChange((health) => {
    if (health === 'up') log.info({ store: store.kind, health }, 'store reachable again');
    else log.warn({ store: store.kind, health }, 'store unreachable: protocol endpoints answer 503 until it is back');
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
