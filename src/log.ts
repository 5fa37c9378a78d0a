/**
 * JSON logs (pino). Secrets, tokens, codes and cookies never reach a log line: the redaction list
 * below covers the places they could appear, and callers log ids and reasons, not payloads.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const REDACT = [
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  '*.client_secret', '*.clientSecret', '*.appSecret', '*.password', '*.code', '*.authCode',
  '*.access_token', '*.accessToken', '*.refresh_token', '*.refreshToken', '*.id_token',
  '*.token', '*.state', '*.connectorData', '*.cookieSecrets',
];

export function createLogger(options: { level?: string; name?: string } = {}, destination?: DestinationStream): Logger {
  return pino({
    name: options.name ?? 'oidc-bridge',
    level: options.level ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination);
}
