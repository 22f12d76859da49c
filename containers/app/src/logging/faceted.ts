import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Faceted data (after Schmitz et al., "Faceted execution of policy-agnostic
 * programs", 2016; the original's `@is_logging` / `@do_not_log`): a field
 * marked `@doNotLog` has two facets, its real value and `***`. Which one a
 * read sees depends on who is reading: code running inside an `@isLogging`
 * method sees `***`, every other code the real value. The "who" follows
 * async calls through AsyncLocalStorage, so a request that is logging never
 * masks the fields another concurrent request is serialising for its response.
 */

export const MASK = '***';

const logging = new AsyncLocalStorage<true>();
const FACETED_FIELDS = Symbol('mymonit.facetedFields');

type WithFacets = { [FACETED_FIELDS]?: string[] };

/** Whether the current async context is inside an `@isLogging` method. */
export function isLoggingNow(): boolean {
  return logging.getStore() === true;
}

/** Runs `fn` as logging code: `@doNotLog` fields read `***` within it and everything it awaits. */
export function runAsLogging<T>(fn: () => T): T {
  return logging.run(true, fn);
}

/** Marks a field as personal data: it reads `***` while an `@isLogging` method runs. */
export function doNotLog(prototype: object, field: string): void {
  const values = new WeakMap<object, unknown>();
  Object.defineProperty(prototype, field, {
    configurable: true,
    enumerable: true,
    get(this: object) {
      const value = values.get(this);
      // null and undefined carry no personal data; keeping them shows an erased user as erased.
      return value !== null && value !== undefined && isLoggingNow() ? MASK : value;
    },
    set(this: object, value: unknown) {
      values.set(this, value);
    },
  });
  const owner = prototype as WithFacets;
  owner[FACETED_FIELDS] = [...(owner[FACETED_FIELDS] ?? []), field];
}

/** Marks a method as logging code (see `doNotLog`); works for sync and async methods. */
export function isLogging<T extends (...args: never[]) => unknown>(
  _prototype: object,
  _method: string,
  descriptor: TypedPropertyDescriptor<T>,
): void {
  const original = descriptor.value!;
  descriptor.value = function (this: unknown, ...args: Parameters<T>) {
    return runAsLogging(() => original.apply(this, args));
  } as T;
}

/** The `@doNotLog` fields of an object's class (and its ancestors). */
export function facetedFields(value: object): readonly string[] {
  return (value as WithFacets)[FACETED_FIELDS] ?? [];
}

const MAX_DEPTH = 8;

/**
 * A plain JSON-ready copy of a log field, read in the current context, so
 * that `@doNotLog` fields are captured as `***` right where the logging
 * method runs, whatever a transport does with the line later. Dates become
 * ISO strings, errors their name, message and code, cycles `[Circular]`.
 */
export function toLoggable(value: unknown, depth = 0, seen: object[] = []): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    return value;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (seen.includes(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[…]';
  const nested = [...seen, value];
  if (value instanceof Error) {
    const code = (value as { code?: string | number }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code: String(code) }) };
  }
  if (Array.isArray(value)) return value.map((item) => toLoggable(item, depth + 1, nested));
  const keys = new Set([...Object.keys(value), ...facetedFields(value)]);
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    const item = toLoggable((value as Record<string, unknown>)[key], depth + 1, nested);
    if (item !== undefined) copy[key] = item;
  }
  return copy;
}
