/**
 * An error and its causes, outermost first, at most five deep: fetch puts the socket's error in
 * `cause`, and the bridge's own wrappers add a level or two (e.g. `TypeError: fetch failed` caused
 * by an EgressProxyRefusedError, src/upstreams/egress-proxy.ts).
 */
export function* causeChain(err: unknown): Generator<Error> {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) yield e;
}
