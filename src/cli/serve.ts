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
  let draining = false;
  const listening = await listen((req, res) => {
    // Node ends a connection after a response that says so: keep-alive clients (an ingress, a
    // proxy's pool) then open their next connection, which no longer reaches this replica.
    if (draining) res.setHeader('Connection', 'close');
    bridge.handler(req, res);
  }, config.listen).catch(async (err: unknown) => {
    // A busy port, or an address this host does not have: name the keys to change.
    await metrics?.close({ graceMs: 0 });
    await bridge.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`listen ${config.listen.host}:${config.listen.port}: ${reason} (set listen.host and listen.port)`, { cause: err });
  });
  const stop = async (signal: NodeJS.Signals) => {
    const { drainDelay } = config.shutdown;
    // Not closing yet: Kubernetes removes the pod from the Service at the same time as it signals,
    // and new connections keep arriving until kube-proxy and the ingress learn of it
    // (`shutdown.drainDelay`, src/config/schema.ts). Closing now would refuse them.
    bridge.setShuttingDown();
    draining = true;
    const delayed = new Promise<NodeJS.Signals | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), drainDelay * 1000);
      endDrainDelay = (second) => {
        clearTimeout(timer);
        resolve(second);
      };
    });
    log.info({ signal, drainDelay }, 'shutting down: draining connections');
    const second = await delayed;
    // From here one more signal gets Node's default: the process ends at once (unless it is a
    // container's PID 1, which the kernel spares; the kubelet's SIGKILL then ends it).
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (second) log.info({ signal: second }, 'second signal: not waiting out the drain delay');
    log.info('closing the listener: finishing requests in flight');
    await listening.close(); // in-flight requests get listen()'s grace, 10 s (src/server/listen.ts)
    await metrics?.close({ graceMs: 0 });
    await bridge.close();
    log.info('stopped');
  };
  // The first signal starts the drain; a second one during the delay ends the delay (an operator
  // pressing Ctrl-C twice). Registered before the "listening" line, and kept until the delay ends,
  // so no signal ever finds the process without a handler, which would kill it at once.
  let endDrainDelay: ((signal: NodeJS.Signals) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (endDrainDelay) endDrainDelay(signal);
    else void stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  log.info(
    { issuer: config.issuer, listen: listening.url, metrics: metrics ? `${metrics.url}/metrics` : 'off', store: config.store.type },
    'oidc-bridge listening',
  );
}
