/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --profile <dir>`) as text:
 * where the samples fell by package (self time), and the functions with the most self and total
 * time. Total time counts a function once per sample however deep it recurses.
 *
 *   node --import tsx bench/profile.ts /tmp/prof/a.cpuprofile [--top 30] [--match token]
 *
 * `--match <text>` keeps only the samples whose stack holds a frame whose function or file contains
 * the text (for example `TokenEndpoint`, `introspection`, `src/server`), to see one endpoint's cost.
 */
import { isIdle, label, loadProfile, quietOnClosedPipe, where } from './cpuprofile.js';

quietOnClosedPipe();

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--top' && args[args.indexOf(a) - 1] !== '--match');
if (!file) {
  process.stderr.write('usage: bench/profile.ts <file.cpuprofile> [--top N] [--match text]\n');
  process.exit(2);
}
const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 25;
const match = args.includes('--match') ? args[args.indexOf('--match') + 1] : undefined;

const { profile, stackOf } = loadProfile(file);

const self = new Map<string, number>();
const total = new Map<string, number>();
const packages = new Map<string, number>();
let counted = 0;
let idle = 0;
for (const sample of profile.samples) {
  const stack = stackOf(sample);
  const leaf = stack[0]!.callFrame;
  if (isIdle(leaf)) {
    idle += 1;
    continue;
  }
  if (match && !stack.some((n) => n.callFrame.functionName.includes(match) || n.callFrame.url.includes(match))) continue;
  counted += 1;
  self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1);
  const pkg = where(leaf)
    .replace(/^(dist|src)\/.*/, '$1 (oidc-bridge)')
    .replace(/^node:(deps\/)?([^/]+).*/, 'node:$2');
  packages.set(pkg, (packages.get(pkg) ?? 0) + 1);
  for (const key of new Set(stack.map((n) => label(n.callFrame)))) total.set(key, (total.get(key) ?? 0) + 1);
}

const pct = (n: number) => `${((100 * n) / Math.max(1, counted)).toFixed(1).padStart(5)}%`;
const list = (title: string, m: Map<string, number>, n = top) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...m].sort((x, y) => y[1] - x[1]).slice(0, n)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
};
process.stdout.write(
  `${file}: ${profile.samples.length} samples, ${idle} idle, ${counted} counted${match ? ` (stacks through "${match}")` : ''}\n`,
);
list('self time by package', packages, 20);
list('self time by function', self);
list('total time by function', total);
