import type { ErrorRequestHandler, Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
  type FieldError,
} from '../errors';
import type { Log } from '../logging/logging';
import { isDatabaseUnreachable } from '../storage/storage-connector';

/** RFC 9457 problem details. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
}

const PROBLEM_TYPES: Record<number, string> = {
  400: 'validation',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  503: 'unavailable',
};

export function problem(status: number, detail: string, errors?: FieldError[]): ProblemDetails {
  return {
    type: `urn:mymonit:problem:${PROBLEM_TYPES[status] ?? 'internal'}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(req: Request, res: Response, body: ProblemDetails): void {
  if (body.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  res
    .status(body.status)
    .type('application/problem+json')
    .json({ ...body, instance: req.originalUrl.split('?')[0], request_id: res.locals.requestId as string });
}

/** The one place where typed errors become HTTP statuses. */
export function toProblem(error: unknown): ProblemDetails {
  if (error instanceof ValidationError) return problem(400, 'The request is not valid', error.errors);
  if (error instanceof UnauthenticatedError) return problem(401, error.message);
  if (error instanceof ForbiddenError) return problem(403, error.message);
  if (error instanceof NotFoundError) return problem(404, error.message);
  if (error instanceof ConflictError) return problem(409, error.message);
  if (error instanceof UnsupportedMediaTypeError) return problem(415, error.message);
  if (error instanceof UnavailableError) return problem(503, error.message);
  if (isDatabaseUnreachable(error)) return problem(503, 'The database is unavailable; try again shortly');
  const e = error as { type?: string; status?: number; message?: string; expose?: boolean };
  // The router could not decode a percent-encoded path segment (`/experiments/%E0%A4%A`).
  if (error instanceof URIError && e.status === 400) {
    return problem(400, 'The request path is not valid', [{ field: 'path', message: 'malformed percent-encoding' }]);
  }
  // body-parser's errors carry a status and a type.
  if (e?.type === 'entity.too.large') return problem(413, 'The request body is larger than 1 MiB');
  if (e?.type === 'entity.parse.failed') {
    return problem(400, 'The request body is not valid JSON', [{ field: 'body', message: 'malformed JSON' }]);
  }
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return problem(415, e.message ?? 'Unsupported encoding');
  }
  // Any other client error that http-errors marks as safe to show (an aborted body, say).
  if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return problem(e.status, e.message ?? 'The request is not valid');
  }
  if (error instanceof AppError) return problem(500, error.message);
  return problem(500, 'Internal error');
}

export function problemHandler(log: Log): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const body = toProblem(error);
    res.locals.error = error;
    if (body.status === 503) {
      log.warn('request refused: a dependency is unavailable', { requestId: res.locals.requestId as string, reason: body.detail });
    } else if (body.status >= 500) {
      log.error('request failed', {
        requestId: res.locals.requestId as string,
        error: (error as Error)?.message,
        stack: (error as Error)?.stack,
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Outages pass: a client may try again in a few seconds.
    if (body.status === 503) res.setHeader('Retry-After', '5');
    sendProblem(req, res, body);
  };
}
