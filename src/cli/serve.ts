/** `oidc-bridge serve`: build the bridge from a config, listen, and drain cleanly on SIGTERM/SIGINT. */
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { buildBridge } from '../server/bridge.js';
import { listen } from '../server/listen.js';

export async function serveConfig(config: Config, options: { configPath?: string; production: boolean }): Promise<void> {
  const log = createLogger({ level: config.logging.level });
  const bridge = await buildBridge(config, {
    production: options.production,
    log,
    ...(options.configPath ? { configPath: options.configPath } : {}),
  });
  const listening = await listen(bridge.handler, config.listen);
  log.info({ issuer: config.issuer, listen: listening.url, store: config.store.type }, 'oidc-bridge listening');
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down: draining connections');
    bridge.setShuttingDown();
    await listening.close();
    await bridge.close();
    log.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
