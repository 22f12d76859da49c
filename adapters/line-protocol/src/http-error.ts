import type { ServerResponse } from 'node:http';

/**
 * An answer other than success, in InfluxDB's error form
 * (`{"code":"invalid","message":"..."}`), which its client libraries and
 * Telegraf read and log.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  response.end(json);
}

/** InfluxDB 1.x clients read `error`; 2.x clients read `code` and `message`. Both are given. */
export function sendError(response: ServerResponse, error: HttpError): void {
  sendJson(response, error.status, { code: error.code, message: error.message, error: error.message }, error.headers);
}
