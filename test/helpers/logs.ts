/** The bridge's own logger (src/log.ts) writing into memory, so tests can read and wait for lines. */
import { createLogger, type Logger } from '../../src/log.js';

/** One pino line as JSON. */
export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface CapturedLogs {
  log: Logger;
  /** Every line written so far, parsed. */
  lines: LogLine[];
  /** Resolves at the first line (already written or to come) whose `msg` is `msg`. */
  logged: (msg: string) => Promise<LogLine>;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const lines: LogLine[] = [];
  const waiters: { msg: string; resolve(line: LogLine): void }[] = [];
  const log = createLogger(
    { level },
    {
      write(chunk: string) {
        for (const text of chunk.split('\n')) {
          if (!text.trim()) continue;
          const line = JSON.parse(text) as LogLine;
          lines.push(line);
          for (const waiter of waiters.filter((w) => w.msg === line.msg)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      },
    },
  );
  const logged = (msg: string) =>
    new Promise<LogLine>((resolve) => {
      const seen = lines.find((line) => line.msg === msg);
      if (seen) resolve(seen);
      else waiters.push({ msg, resolve });
    });
  return { log, lines, logged };
}
