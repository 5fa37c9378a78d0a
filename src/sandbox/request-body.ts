import express, { type Request } from 'express';

export type Fields = Record<string, unknown>;

/** Buffers any body (64 KiB at most); the handlers decide which encodings they accept. */
export const rawBody = express.raw({ type: () => true, limit: '64kb' });

function text(req: Request): string | undefined {
  return Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body.toString('utf8') : undefined;
}

function parseJsonObject(body: string): Fields | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * api.dingtalk.com reads JSON only: a form-encoded body is answered `400 Missingbody`
 * (aliyun/alibabacloud-php-sdk#36). undefined = no usable JSON object.
 */
export function jsonOnlyBody(req: Request): Fields | undefined {
  const body = text(req);
  return body !== undefined && req.is('application/json') ? parseJsonObject(body) : undefined;
}

/** oapi topapi accepts JSON (what SDKs send) and form bodies (what the doc's curl examples send). */
export function jsonOrFormBody(req: Request): Fields {
  const body = text(req);
  if (body === undefined) return {};
  if (req.is('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body));
  return parseJsonObject(body) ?? Object.fromEntries(new URLSearchParams(body));
}

/** A non-empty string field (numbers are accepted as their decimal text). */
export function stringField(fields: Fields, name: string): string | undefined {
  const v = fields[name];
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** An integer field, from a JSON number or a form string. */
export function intField(fields: Fields, name: string): number | undefined {
  const v = fields[name];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A query parameter given once (express turns repeats into arrays). */
export function queryParam(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
}
