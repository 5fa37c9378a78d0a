/**
 * Where the bridge's extra CPU per request goes: two CPU profiles of one bench row, the bridge's
 * and the bare engine's, each scaled to the CPU time per request the bench measured for it, and
 * their difference by part (the store, the bridge's request layer, node's HTTP, async context,
 * garbage collection, oidc-provider itself…) and by function.
 *
 *   node --import tsx bench/run.ts --only userinfo --profile /tmp/prof
 *   node --import tsx bench/compare-profiles.ts /tmp/prof/a/*.cpuprofile 393 /tmp/prof/c/<main>.cpuprofile 224 [--top 30]
 *
 * The numbers after each file are that server's "CPU µs/req" in the row. A profile covers the
 * server's whole life (start-up, the logins that prepare tokens), so a part that is not the row's
 * (module loading) shows as such; profile one row at a time. Under tsx the bare engine writes a
 * second, small profile (the loader thread): use the larger one.
 */
import { isIdle, label, loadProfile, quietOnClosedPipe, where, type CallFrame } from './cpuprofile.js';

quietOnClosedPipe();

/** The part of the stack a leaf frame's time belongs to. First match wins. */
const PARTS: ReadonlyArray<[string, (f: CallFrame, at: string) => boolean]> = [
  ['store (records as JSON, lookups, indexes)', (_f, at) => /^(dist|src)\/store\//.test(at)],
  ['accounts and claims', (_f, at) => /^(dist|src)\/(accounts\/|oidc\/find-account)/.test(at) || at === 'pinyin-pro'],
  [
    "the bridge's request layer (dispatch, rate limits, request ids, headers, log context, koa hooks)",
    (_f, at) => /^(dist|src)\//.test(at) || ['forwarded', 'proxy-addr', 'pino', 'rate-limiter-flexible'].includes(at),
  ],
  ['oidc-provider, koa, jose', (_f, at) => /^(oidc-provider|koa|koa-compose|jose|delegates|cookies|keygrip|@koa\/.+)$/.test(at)],
  [
    'async context and promises',
    (f, at) => at === 'node:async_hooks' || /^(runMicrotasks|processTicksAndRejections)$/.test(f.functionName),
  ],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['module loading (start-up, lazy imports)', (_f, at) => /^node:modules\//.test(at) || at === 'node:fs'],
  [
    "node's HTTP and sockets",
    (f, at) => /^node:(_http_|net|stream|events|buffer)/.test(at) || /^(writev|writeUtf8String|writeLatin1String)$/.test(f.functionName),
  ],
];
const partOf = (f: CallFrame): string => PARTS.find(([, test]) => test(f, where(f)))?.[0] ?? 'other (crypto, url, JSON, …)';

interface Costs {
  byPart: Map<string, number>;
  byFunction: Map<string, number>;
}

/** Self time per part and per function, in µs per request: the profile's busy time scaled to `cpuUsPerRequest`. */
export function costsOf(file: string, cpuUsPerRequest: number): Costs {
  const { profile, stackOf } = loadProfile(file);
  const byPart = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((sample, i) => {
    const leaf = stackOf(sample)[0]!.callFrame;
    if (isIdle(leaf)) return;
    const us = profile.timeDeltas?.[i] ?? 1;
    busy += us;
    const part = partOf(leaf);
    byPart.set(part, (byPart.get(part) ?? 0) + us);
    byFunction.set(label(leaf), (byFunction.get(label(leaf)) ?? 0) + us);
  });
  const scale = busy > 0 ? cpuUsPerRequest / busy : 0;
  for (const m of [byPart, byFunction]) for (const [k, v] of m) m.set(k, v * scale);
  return { byPart, byFunction };
}

/** Rows of (name, bridge, engine), the largest difference first. */
export function difference(a: Map<string, number>, c: Map<string, number>): Array<[string, number, number]> {
  return [...new Set([...a.keys(), ...c.keys()])]
    .map((k): [string, number, number] => [k, a.get(k) ?? 0, c.get(k) ?? 0])
    .sort((x, y) => y[1] - y[2] - (x[1] - x[2]));
}

function main(args: string[]): void {
  const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
  const [fileA, cpuA, fileC, cpuC] = positional;
  if (!fileA || !fileC || !(Number(cpuA) > 0) || !(Number(cpuC) > 0)) {
    process.stderr.write('usage: bench/compare-profiles.ts <bridge.cpuprofile> <cpu µs/req> <engine.cpuprofile> <cpu µs/req> [--top N]\n');
    process.exit(2);
  }
  const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 25;
  const a = costsOf(fileA, Number(cpuA));
  const c = costsOf(fileC, Number(cpuC));
  const line = ([name, x, y]: [string, number, number]) =>
    `  ${(x - y).toFixed(1).padStart(7)} ${x.toFixed(1).padStart(7)} ${y.toFixed(1).padStart(7)}  ${name}\n`;
  process.stdout.write(`µs of CPU per request: bridge ${Number(cpuA)}, engine ${Number(cpuC)}\n`);
  process.stdout.write('\nby part (bridge − engine, bridge, engine)\n');
  for (const row of difference(a.byPart, c.byPart)) process.stdout.write(line(row));
  process.stdout.write('\nby function, self time (bridge − engine, bridge, engine)\n');
  for (const row of difference(a.byFunction, c.byFunction).slice(0, top)) process.stdout.write(line(row));
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
