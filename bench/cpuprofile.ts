/**
 * Reading V8 CPU profiles (`node --cpu-prof`; the format is Chrome DevTools' `Profiler.Profile`,
 * https://chromedevtools.github.io/devtools-protocol/tot/Profiler/#type-Profile), shared by
 * bench/profile.ts (one profile) and bench/compare-profiles.ts (the bridge against the bare engine).
 */
import { readFileSync } from 'node:fs';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds from the previous sample to this one. */
  timeDeltas?: number[];
}

export interface LoadedProfile {
  profile: Profile;
  /** The frames of a sample, leaf first. */
  stackOf: (sample: number) => ProfileNode[];
}

export function loadProfile(file: string): LoadedProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return {
    profile,
    stackOf: (sample) => {
      const stack: ProfileNode[] = [];
      for (let at: number | undefined = sample; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!);
      return stack;
    },
  };
}

/** node_modules/<package>, the project's own file, a node built-in, or V8's bookkeeping. */
export function where(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return `(${functionName || 'native'})`;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  // node:internal/deps/undici/undici (fetch), node:internal/streams/…: which part of node.
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:');
  const own = /\/(dist|src|bench|test)\/(.+)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

export const label = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${where(f)}:${f.lineNumber + 1}`;

export const isIdle = (f: CallFrame): boolean => f.functionName === '(idle)';

/** `… | head` closes the pipe early: end quietly instead of an EPIPE stack. */
export function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
