import type { Request, Response } from 'express';
import { z } from 'zod';
import { UnsupportedMediaTypeError, ValidationError, type FieldError } from '../errors';
import { fieldErrors } from '../model/measure-message';
import type { User } from '../model/user';
import type { VerifiedIdentity } from '../auth/identity-verifier';

/** Who may call a route: anyone, any signed-in user, or admins only. */
export type Access = 'public' | 'user' | 'admin';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Extra media types beside application/json (e.g. text/csv). */
  alternatives?: Record<string, z.ZodType>;
  headers?: Record<string, string>;
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The signed-in user; present on every route whose access is not 'public'. */
  user: User;
  /** Who signed in and until when their token is valid; present with `user`. */
  identity: VerifiedIdentity;
  req: Request;
  res: Response;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI path template, e.g. `/users/{user_id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseSpec>;
  /** Error statuses this route can answer beyond the ones its inputs and access imply. */
  errors?: number[];
  /** Returns the response, or nothing when it wrote the response itself (streams). */
  handle(context: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<RouteResult | void>;
}

/** Identity function that lets TypeScript infer a route's input types from its schemas. */
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  route: Route<P, Q, B>,
): Route {
  return route;
}

export const expressPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

/** Which keys of a query schema are arrays, worked out once per schema. */
const arrayKeysOf = new WeakMap<z.ZodType, Map<string, boolean>>();

function arrayKeys(schema: z.ZodObject): Map<string, boolean> {
  let keys = arrayKeysOf.get(schema);
  if (!keys) {
    keys = new Map();
    for (const [key, field] of Object.entries<z.ZodType>(schema.shape)) {
      let inner: z.ZodType = field;
      while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) {
        inner = inner.def.innerType as z.ZodType;
      }
      keys.set(key, inner instanceof z.ZodArray);
    }
    arrayKeysOf.set(schema, keys);
  }
  return keys;
}

/** Repeated query keys arrive as arrays and single ones as strings: make array fields arrays. */
function normaliseQuery(schema: z.ZodType, query: Record<string, unknown>): Record<string, unknown> {
  if (!(schema instanceof z.ZodObject)) return query;
  const out: Record<string, unknown> = { ...query };
  for (const [key, isArray] of arrayKeys(schema)) {
    if (isArray && typeof out[key] === 'string') out[key] = [out[key]];
    if (!isArray && Array.isArray(out[key])) out[key] = (out[key] as unknown[]).at(-1);
  }
  return out;
}

/** Validates params, query and body together, so one 400 names every bad field. */
export function parseInputs(route: Route, req: Request) {
  // A body that the JSON parser left alone (text/plain, a form, no Content-Type) was not read.
  const sentBody = () => req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (route.body && req.body === undefined && sentBody()) {
    throw new UnsupportedMediaTypeError(`The request body must be application/json, not ${req.get('content-type') ?? 'untyped'}`);
  }
  const errors: FieldError[] = [];
  const parse = (schema: z.ZodType | undefined, value: unknown, where: string) => {
    if (!schema) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    errors.push(...fieldErrors(result.error, where));
    return undefined;
  };
  const params = parse(route.params, req.params, 'params');
  const query = parse(
    route.query,
    route.query ? normaliseQuery(route.query, req.query) : req.query,
    'query',
  );
  const body = parse(route.body, req.body ?? {}, 'body');
  if (errors.length > 0) throw new ValidationError(errors);
  return { params, query, body };
}
