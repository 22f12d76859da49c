/** Typed domain errors; `rest/problem.ts` is the one place that maps them to HTTP. */

/** Where a bad value was (`body.email`, `query.limit`, `[3].value`) and why: defined with the message schema. */
import type { FieldError } from '@mymonit/publisher/schema';

export type { FieldError };

export abstract class AppError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(
    readonly errors: FieldError[],
    message = errors.map((e) => `${e.field}: ${e.message}`).join('; '),
  ) {
    super(message);
  }
}

/** No credentials, or credentials that do not verify. `reason` is safe to log. */
export class UnauthenticatedError extends AppError {
  constructor(readonly reason: string) {
    super('A valid bearer token is required');
  }
}

/** Authenticated, but not allowed. */
export class ForbiddenError extends AppError {}

export class NotFoundError extends AppError {}

export class ConflictError extends AppError {}

/** A request body in a format the route does not read (it takes JSON). */
export class UnsupportedMediaTypeError extends AppError {}

/** A dependency (MySQL, RabbitMQ) cannot serve the request now. */
export class UnavailableError extends AppError {}
