import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The token a request presents: `Authorization: Token <t>` (InfluxDB's client
 * libraries and Telegraf's influxdb_v2 output), `Bearer <t>`, or Basic with
 * the token as password (Telegraf's 1.x influxdb output, `password = "<t>"`).
 */
export function presentedToken(headers: IncomingHttpHeaders): string | null {
  const header = headers.authorization?.trim();
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space === -1) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const credentials = header.slice(space + 1).trim();
  if (scheme === 'token' || scheme === 'bearer') return credentials;
  if (scheme === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? null : decoded.slice(colon + 1);
  }
  return null;
}

/** Whether the request carries the expected token (compared in constant time). */
export function isAuthorized(headers: IncomingHttpHeaders, expected: string): boolean {
  const token = presentedToken(headers);
  return token !== null && timingSafeEqual(digest(token), digest(expected));
}
