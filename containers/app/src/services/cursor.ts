import { ValidationError } from '../errors';

/** Opaque pagination cursors: base64url JSON that clients pass back unchanged. */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, isValid: (value: unknown) => value is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isValid(value)) return value;
  } catch {
    // falls through to the validation error
  }
  throw new ValidationError([{ field: 'query.cursor', message: 'not a cursor returned by this API' }]);
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says there is more. */
export function pageOf<T>(rows: T[], limit: number, positionOf: (last: T) => unknown): Page<T> {
  const items = rows.slice(0, limit);
  const more = rows.length > limit;
  return { items, nextCursor: more ? encodeCursor(positionOf(items[items.length - 1])) : null };
}

export const isKeyCursor = (value: unknown): value is { k: string } =>
  typeof value === 'object' && value !== null && typeof (value as { k: unknown }).k === 'string';
