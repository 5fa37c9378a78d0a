/**
 * JSON logs (pino). Secrets, tokens, codes and cookies never reach a log line: the redaction list
 * below covers the places they could appear, and callers log ids and reasons, not payloads.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The request being served, set by the server for each request: every log line written while it
 * runs (also deep in an upstream client) carries its `reqId`, the reference shown on error pages.
 */
export const requestContext = new AsyncLocalStorage<{ reqId: string }>();

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.client_secret',
  '*.clientSecret',
  '*.appSecret',
  '*.password',
  '*.code',
  '*.authCode',
  '*.access_token',
  '*.accessToken',
  '*.refresh_token',
  '*.refreshToken',
  '*.id_token',
  '*.token',
  '*.state',
  '*.connectorData',
  '*.cookieSecrets',
];

export function createLogger(options: { level?: string; name?: string } = {}, destination?: DestinationStream): Logger {
  return pino(
    {
      name: options.name ?? 'oidc-bridge',
      level: options.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => {
        const context = requestContext.getStore();
        return context ? { reqId: context.reqId } : {};
      },
    },
    destination,
  );
}
