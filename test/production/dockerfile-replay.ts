/**
 * Replays the repository's Dockerfile without a Docker engine: the build stage's COPY and RUN lines
 * in one temporary directory, the final stage's COPY lines into another. So the production install
 * a test starts is exactly the file set the image would hold, and the two cannot drift apart.
 *
 * Only the instructions the Dockerfile uses are understood (FROM, WORKDIR, ENV, COPY [--from=],
 * RUN, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD); anything else is an error, so a new
 * instruction makes this test fail loudly instead of being skipped.
 */
import { execSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface ReplayedImage {
  /** The final stage's WORKDIR, as a directory on this machine. */
  dir: string;
  /** The final stage's ENV. */
  env: Record<string, string>;
  /** ENTRYPOINT, exec form. */
  entrypoint: string[];
  /** The build stage's directory (to clean up). */
  buildDir: string;
}

interface Stage {
  name?: string;
  workdir: string;
  dir: string;
  env: Record<string, string>;
}

/** Joined continuation lines, comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

export function replayDockerfile(repo: string, options: { log?: (line: string) => void } = {}): ReplayedImage {
  const log = options.log ?? (() => {});
  const stages: Stage[] = [];
  let entrypoint: string[] = [];
  const local = (stage: Stage, path: string) =>
    path.startsWith('/') ? join(stage.dir, path.slice(stage.workdir.length)) : join(stage.dir, path);

  for (const line of instructions(readFileSync(join(repo, 'Dockerfile'), 'utf8'))) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    const stage = stages.at(-1);
    if (keyword === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(args)?.[1];
      stages.push({
        ...(name ? { name } : {}),
        workdir: '/',
        dir: mkdtempSync(join(tmpdir(), `oidc-bridge-image-${name ?? 'final'}-`)),
        env: {},
      });
      continue;
    }
    if (!stage) throw new Error(`Dockerfile: ${keyword} before FROM`);
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = args;
        break;
      case 'ENV': {
        const [key, value] = args.split('=');
        if (!key || value === undefined) throw new Error(`Dockerfile: ENV must be KEY=value: ${line}`);
        stage.env[key] = value;
        break;
      }
      case 'COPY': {
        const parts = rest.filter((p) => !p.startsWith('--chown'));
        const from = parts[0]?.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : undefined;
        const dest = parts.pop()!;
        const source = from ? stages.find((s) => s.name === from) : undefined;
        if (from && !source) throw new Error(`Dockerfile: unknown stage ${from}`);
        for (const src of parts) {
          const origin = source ? local(source, src) : join(repo, src);
          const intoDir = dest.endsWith('/') || dest === '.';
          const target = intoDir ? join(local(stage, dest), basename(src)) : local(stage, dest);
          mkdirSync(dirname(target), { recursive: true });
          cpSync(origin, target, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case 'RUN':
        // The final stage only prepares directories and ownership for the container's user.
        if (stage.name === undefined) break;
        log(`RUN ${args}`);
        execSync(args, { cwd: stage.dir, stdio: 'pipe', env: { ...process.env, ...stage.env } });
        break;
      case 'ENTRYPOINT':
        entrypoint = JSON.parse(args) as string[];
        break;
      case 'USER':
      case 'EXPOSE':
      case 'HEALTHCHECK':
      case 'CMD':
        break;
      default:
        throw new Error(`Dockerfile: the replay does not understand ${keyword}`);
    }
  }
  const final = stages.at(-1);
  const build = stages.find((s) => s.name !== undefined);
  if (!final || !build || final === build) throw new Error('Dockerfile: expected a named build stage and a final stage');
  return { dir: final.dir, env: final.env, entrypoint, buildDir: build.dir };
}
