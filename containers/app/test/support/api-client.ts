import assert from 'node:assert/strict';
import { rememberPersonalData } from './log-capture';
import type { OpenApiChecker } from './openapi-checker';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (for malformed or oversized bodies). */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Skip the OpenAPI check: only for requests to routes that do not exist. */
  undocumented?: boolean;
  /** Stop after the headers (event streams never end); the body is not read. */
  headersOnly?: boolean;
}

/** HTTP client for component tests: every response is checked against the OpenAPI document. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly checker: OpenApiChecker,
  ) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      if (path.startsWith('/users') && typeof options.body === 'object' && options.body !== null) {
        const { name, email, username } = options.body as Record<string, unknown>;
        rememberPersonalData(name, email, username);
      }
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    } else if (body !== undefined) {
      headers['content-type'] ??= 'application/json';
    }
    const abort = new AbortController();
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body, signal: abort.signal });
    const contentType = response.headers.get('content-type');
    const streaming = options.headersOnly && response.ok;
    const text = streaming ? '' : await response.text();
    if (streaming) abort.abort();
    const parsed = contentType?.includes('json') && text ? JSON.parse(text) : text;
    assert.ok(response.headers.get('x-request-id'), `${method} ${path}: no X-Request-Id`);
    if (!options.undocumented) {
      this.checker.check(method, path.split('?')[0], response.status, response.headers, streaming ? undefined : parsed);
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, options);
  }
  post<T = any>(path: string, body: unknown, options?: RequestOptions) {
    return this.request<T>('POST', path, { ...options, body });
  }
  put<T = any>(path: string, body: unknown, options?: RequestOptions) {
    return this.request<T>('PUT', path, { ...options, body });
  }
  delete<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('DELETE', path, options);
  }
}

/** Asserts a problem+json answer with the given status, and (for 400) that it names these fields. */
export function assertProblem(response: ApiResponse, status: number, fields: string[] = []): void {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(response.body.status, status);
  const named = (response.body.errors ?? []).map((e: { field: string }) => e.field);
  for (const field of fields) assert.ok(named.includes(field), `problem should name ${field}; named ${named.join(', ')}`);
}
