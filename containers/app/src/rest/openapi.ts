import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { Problem } from './schemas';
import type { Route } from './route';

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; `errors` names each bad field',
  401: 'No bearer token, or one that does not verify',
  403: 'Signed in, but not allowed (or not a MyMONIT user)',
  404: 'Not found (also: an experiment you are not associated with)',
  409: 'Conflicts with the current state',
  413: 'Body larger than 1 MiB',
  415: 'A body that is not `application/json`',
  503: 'A dependency (MySQL, or the broker for ingestion) is unavailable; try again after `Retry-After` seconds',
};

/** The error statuses a route can answer, from what it takes and who may call it. */
export function errorStatuses(route: Route): number[] {
  const statuses = new Set<number>(route.errors ?? []);
  if (route.params || route.query || route.body) statuses.add(400);
  // Signing in looks the user up in MySQL: every such route can meet an outage.
  if (route.access !== 'public') [401, 403, 503].forEach((s) => statuses.add(s));
  if (route.path.includes('{')) statuses.add(404);
  if (route.body) [413, 415].forEach((s) => statuses.add(s));
  return [...statuses].sort();
}

/** OpenAPI 3.1 document generated from the same route definitions and zod schemas that serve requests. */
export function buildOpenApiDocument(routes: Route[], version: string) {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'firebase', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A Firebase ID token',
  });
  // Headers the app sets itself, whatever the route.
  const requestId = registry.registerComponent('headers', 'X-Request-Id', {
    description: 'The request id: the one the client (or Nginx) sent when it is 1-128 characters of A-Z a-z 0-9 . _ : -, otherwise a new UUID; also in every log line of the request',
    schema: { type: 'string' },
  }).ref;
  const retryAfter = registry.registerComponent('headers', 'Retry-After', {
    description: 'Seconds to wait before trying again',
    schema: { type: 'string', example: '5' },
  }).ref;
  const wwwAuthenticate = registry.registerComponent('headers', 'WWW-Authenticate', {
    description: 'The scheme to authenticate with: `Bearer`',
    schema: { type: 'string', example: 'Bearer' },
  }).ref;
  const errorHeaders: Record<number, Record<string, unknown>> = {
    401: { 'WWW-Authenticate': wwwAuthenticate },
    503: { 'Retry-After': retryAfter },
  };
  for (const route of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const content: Record<string, { schema: z.ZodType }> = {};
      if (spec.schema) content['application/json'] = { schema: spec.schema };
      Object.assign(
        content,
        Object.fromEntries(Object.entries(spec.alternatives ?? {}).map(([type, schema]) => [type, { schema }])),
      );
      responses[status] = {
        description: spec.description,
        ...(Object.keys(content).length > 0 ? { content } : {}),
        headers: {
          'X-Request-Id': requestId,
          ...Object.fromEntries(
            Object.entries(spec.headers ?? {}).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
          ),
        },
      };
    }
    for (const status of errorStatuses(route)) {
      responses[status] = {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        headers: { 'X-Request-Id': requestId, ...errorHeaders[status] },
        content: { 'application/problem+json': { schema: Problem } },
      };
    }
    registry.registerPath({
      method: route.method,
      path: route.path,
      operationId: route.operationId,
      summary: route.summary,
      description: route.description,
      tags: [route.tag],
      security: route.access === 'public' ? [] : [{ [bearer.name]: [] }],
      request: {
        params: route.params as never,
        query: route.query as never,
        body: route.body ? { required: true, content: { 'application/json': { schema: route.body } } } : undefined,
      },
      responses: responses as never,
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'MyMONIT API',
      version,
      description:
        'Measurements of scientific experiments. Authenticate with `Authorization: Bearer <Firebase ID token>`. Errors are `application/problem+json` (RFC 9457).',
    },
    servers: [{ url: '/' }],
  });
}
