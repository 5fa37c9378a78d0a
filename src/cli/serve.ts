/** `oidc-bridge serve`: build the bridge from a config, listen, and drain cleanly on SIGTERM/SIGINT. */
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { buildBridge, type Bridge } from '../server/bridge.js';
import { listen, type Listening } from '../server/listen.js';

/** The metrics listener (`metrics.listen`); a busy port is a start-up error that names the keys to change. */
async function listenForMetrics(bridge: Bridge, config: Config): Promise<Listening> {
  const { host, port } = config.metrics.listen;
  try {
    return await listen(bridge.metricsHandler, { host, port });
  } catch (err) {
    await bridge.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`metrics listener ${host}:${port}: ${reason} (set metrics.listen.port to a free port, or metrics.enabled: false)`, {
      cause: err,
    });
  }
}

export async function serveConfig(config: Config, options: { configPath?: string; production: boolean }): Promise<void> {
  const log = createLogger({ level: config.logging.level });
  const bridge = await buildBridge(config, {
    production: options.production,
    log,
    ...(options.configPath ? { configPath: options.configPath } : {}),
  });
  const metrics = config.metrics.enabled ? await listenForMetrics(bridge, config) : undefined;
  const listening = await listen(bridge.handler, config.listen);
  log.info(
    { issuer: config.issuer, listen: listening.url, metrics: metrics ? `${metrics.url}/metrics` : 'off', store: config.store.type },
    'oidc-bridge listening',
  );
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down: draining connections');
    bridge.setShuttingDown();
    await listening.close();
    await metrics?.close({ graceMs: 0 });
    await bridge.close();
    log.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
