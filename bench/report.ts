/** The bench's results as a terminal table and as Markdown (bench/run.ts writes both). */

export interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** The server's CPU time (user + system) over the row, per request served, in µs. */
  cpuUsPerRequest: number;
  /** Codes redeemed (the authorization_code row). */
  amount?: number;
}

/** The round reported for a server (see `best` in bench/run.ts), and every round it ran. */
export interface Reported extends Measured {
  rounds?: Array<Pick<Measured, 'rps' | 'cpuUsPerRequest' | 'errors'> & { amount?: number }>;
}

export interface Row {
  name: string;
  results: Partial<Record<'a' | 'b' | 'c', Reported>>;
}

export interface Report {
  machine: { cpu: string; cores: number; node: string; date: string; quick: boolean; from: string; seconds: number };
  /** How each row's figure was chosen: `rounds` interleaved rounds per server, the best error-free one. */
  method: { rounds: number; secondsPerRound: number; codeRounds: number; codesPerRound: number; loginRounds: number; estimator: string };
  labels: Record<string, string>;
  rows: Row[];
  logins: Record<
    string,
    {
      perSecond: number;
      failed: number;
      /** Logins a second in every round of the closed loop; `perSecond` and `steps` are the best one's. */
      rounds?: number[];
      /** p50 and p99 under the closed loop; cpuMs: the server's CPU per step, one login at a time. */
      steps: Record<string, { p50: number; p99: number; cpuMs?: number }>;
    }
  >;
  rss: {
    startup: Record<string, number>;
    afterLoad: Record<string, number>;
    /** The build alone with a DingTalk-only config, when it first answers, per store. */
    production: Record<string, number>;
    /** The same processes' least RSS over the next `idleSeconds`, without a request meanwhile. */
    productionIdle: Record<string, number>;
    idleSeconds: number;
  };
  memory: Record<string, { baseline: { rssMb: number }; sizes: Record<string, { rssMb: number; redisMb?: number }> }>;
}

const fixed = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));

/** The row's (x)/(c) throughput ratio; the recheck row is compared with (c)'s plain refresh. */
export function ratio(report: Report, row: Row, x: 'a' | 'b'): number | undefined {
  const base = row.results.c ?? report.rows.find((r) => r.name === 'token (refresh_token)')?.results.c;
  const mine = row.results[x];
  return base && mine && base.rps > 0 ? mine.rps / base.rps : undefined;
}

/** The same comparison by cost: (c)'s CPU per request over (x)'s (1.0: the bridge costs what the engine alone does). */
export function cpuRatio(report: Report, row: Row, x: 'a' | 'b'): number | undefined {
  const base = row.results.c ?? report.rows.find((r) => r.name === 'token (refresh_token)')?.results.c;
  const mine = row.results[x];
  return base?.cpuUsPerRequest && mine?.cpuUsPerRequest ? base.cpuUsPerRequest / mine.cpuUsPerRequest : undefined;
}

function throughputLines(report: Report): string[][] {
  return report.rows.map((row) => [
    row.name,
    ...(['a', 'b', 'c'] as const).flatMap((id) => {
      const m = row.results[id];
      return [m ? `${fixed(m.rps)}${m.errors ? ` (${m.errors} err)` : ''}` : '–', fixed(m?.p99, 1)];
    }),
    fixed(ratio(report, row, 'a'), 2),
    fixed(ratio(report, row, 'b'), 2),
    (['a', 'b', 'c'] as const).map((id) => fixed(row.results[id]?.cpuUsPerRequest)).join(' · '),
    fixed(cpuRatio(report, row, 'a'), 2),
    fixed(cpuRatio(report, row, 'b'), 2),
  ]);
}

const HEADER = [
  'endpoint',
  '(a) req/s',
  '(a) p99 ms',
  '(b) req/s',
  '(b) p99 ms',
  '(c) req/s',
  '(c) p99 ms',
  'a/c',
  'b/c',
  'CPU µs/req a · b · c',
  'a/c CPU',
  'b/c CPU',
];

function loginLines(report: Report): string[][] {
  return Object.entries(report.logins).flatMap(([id, l]) => [
    [`(${id}) ${report.labels[id]}`, `${fixed(l.perSecond, 1)} logins/s${l.failed ? `, ${l.failed} failed` : ''}`, '', '', ''],
    ...Object.entries(l.steps)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([step, s]) => ['', step, fixed(s.p50, 1), fixed(s.p99, 1), fixed(s.cpuMs, 1)]),
  ]);
}

function memoryLines(report: Report): string[][] {
  return Object.entries(report.memory).flatMap(([store, m]) =>
    Object.entries(m.sizes).map(([n, s]) => [
      store,
      n,
      fixed(m.baseline.rssMb, 1),
      fixed(s.rssMb, 1),
      s.redisMb === undefined ? '–' : fixed(s.redisMb, 1),
    ]),
  );
}

function table(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

function markdownTable(header: string[], lines: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
}

const LOGIN_HEADER = ['server', 'step', 'p50 ms', 'p99 ms', 'server CPU ms'];
const MEMORY_HEADER = ['store', 'sessions + grants', 'RSS before MB', 'RSS after MB', 'Redis used_memory growth MB'];

function machineLine(report: Report): string {
  const m = report.machine;
  const r = report.method;
  return `${m.date} · ${m.cpu} · ${m.cores} cores · node ${m.node} · bridges from ${m.from}${m.quick ? ' · QUICK (smoke only)' : ''} · ${m.seconds} s · best of ${r.rounds} rounds of ${r.secondsPerRound} s, codes: best of ${r.codeRounds} rounds of up to ${r.codesPerRound}, logins: best of ${r.loginRounds} rounds`;
}

function rssLine(report: Report): string {
  const r = report.rss;
  const ids = Object.keys(r.startup);
  return `RSS at start-up: ${ids.map((id) => `(${id}) ${fixed(r.startup[id], 1)} MB`).join(', ')}; after the load: ${ids
    .map((id) => `(${id}) ${fixed(r.afterLoad[id], 1)} MB`)
    .join(', ')}; the bridge from ${report.machine.from} alone at start-up (DingTalk only): ${Object.entries(r.production)
    .map(([store, mb]) => `${store} store ${fixed(mb, 1)} MB`)
    .join(', ')}; idle, the least over the next ${r.idleSeconds} s: ${Object.entries(r.productionIdle)
    .map(([store, mb]) => `${store} store ${fixed(mb, 1)} MB`)
    .join(', ')}`;
}

export function renderTable(report: Report): string {
  return [
    machineLine(report),
    Object.entries(report.labels)
      .map(([id, label]) => `(${id}) ${label}`)
      .join('   '),
    '',
    table(HEADER, throughputLines(report)),
    '',
    table(LOGIN_HEADER, loginLines(report)),
    '',
    table(MEMORY_HEADER, memoryLines(report)),
    '',
    rssLine(report),
    '',
  ].join('\n');
}

export function renderMarkdown(report: Report): string {
  return [
    `Run: ${machineLine(report)}`,
    '',
    Object.entries(report.labels)
      .map(([id, label]) => `(${id}) ${label}`)
      .join(' · '),
    '',
    markdownTable(HEADER, throughputLines(report)),
    '',
    'Complete federated logins (closed loop of workers; latency per step as the browser sees it):',
    '',
    markdownTable(LOGIN_HEADER, loginLines(report)),
    '',
    markdownTable(MEMORY_HEADER, memoryLines(report)),
    '',
    rssLine(report),
    '',
  ].join('\n');
}
