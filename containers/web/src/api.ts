import { idToken } from './auth';

/**
 * The REST API client: adds the Firebase ID token, and turns problem+json
 * answers into messages a person can act on (never raw JSON).
 */

export interface FieldError {
  field: string;
  message: string;
}

interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  request_id?: string;
  errors?: FieldError[];
}

/** What the request was about: picks the words of a 404. */
export type Subject = 'experiment' | 'user' | 'other';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly fieldErrors: FieldError[] = [],
    readonly problem: Problem | null = null,
  ) {
    super(message);
  }
}

export const SESSION_EXPIRED = 'Your session has expired: sign in again.';
export const NO_ACCESS = 'You do not have access: ask an administrator to give you access.';
export const NO_EXPERIMENT = 'This experiment does not exist or you are not associated with it.';

let onExpired: (() => void) | null = null;
/** Called once per 401: the page signs out and shows the sign-in form. */
export function onSessionExpired(callback: () => void): void {
  onExpired = callback;
}

export type Query = Record<string, string | number | boolean | null | undefined | (string | number)[]>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === null || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  query?: Query;
  body?: unknown;
  accept?: string;
  signal?: AbortSignal;
  subject?: Subject;
}

/** Paths are relative to the page (`experiments/X`), so the app may live under a prefix. */
const url = (path: string, query?: Query) => withQuery(path.replace(/^\//, ''), query);

/** Sends a request and answers the Response when it is 2xx; throws an ApiError with words otherwise. */
export async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  const token = await idToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url(path, options.query), {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') throw error;
    throw new ApiError('The server cannot be reached: check your connection and try again.', 0);
  }
  if (response.ok) return response;
  throw await toApiError(response, options.subject ?? subjectOf(path));
}

/** GET/POST/PUT/DELETE answering JSON (or nothing, for 204). */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function subjectOf(path: string): Subject {
  if (/^\/?experiments\/[^/]+/.test(path) && !/\/users\/[^/]+$/.test(path)) return 'experiment';
  if (/^\/?users\//.test(path)) return 'user';
  return 'other';
}

async function toApiError(response: Response, subject: Subject): Promise<ApiError> {
  let problem: Problem | null = null;
  try {
    if (/json/.test(response.headers.get('content-type') ?? '')) problem = (await response.json()) as Problem;
  } catch {
    problem = null;
  }
  const status = response.status;
  if (status === 401) onExpired?.();
  return new ApiError(messageFor(status, problem, subject), status, problem?.errors ?? [], problem);
}

export function messageFor(status: number, problem: Problem | null, subject: Subject): string {
  switch (status) {
    case 400: {
      const count = problem?.errors?.length ?? 0;
      return count > 0
        ? `Please correct ${count === 1 ? 'the field' : `the ${count} fields`} marked below.`
        : `The request is not valid${problem?.detail ? `: ${sentence(problem.detail)}` : '.'}`;
    }
    case 401:
      return SESSION_EXPIRED;
    case 403:
      return NO_ACCESS;
    case 404: {
      const detail = problem?.detail ?? '';
      if (/is not associated/.test(detail)) return 'This user is not associated with this experiment.';
      if (subject === 'user' || /^user .* not found$/.test(detail)) return 'This user does not exist (or was erased).';
      if (subject === 'experiment') return NO_EXPERIMENT;
      return 'Not found: the page or the item does not exist (any more).';
    }
    case 409:
      return problem?.detail ? `This cannot be done: ${sentence(problem.detail)}` : 'This conflicts with the current data: reload and try again.';
    case 413:
      return 'The request is too large.';
    case 503:
      return 'The service is temporarily unavailable: try again in a moment.';
    default:
      return `Something went wrong on the server${problem?.request_id ? ` (reference ${problem.request_id})` : ''}: try again later.`;
  }
}

/** "experiment EXP-A has measures" → "experiment EXP-A has measures." */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The message to show for any error. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong in the page: reload it and try again.';
}

/** Shapes of the API (see containers/app/src/rest/schemas.ts). */

export type Role = 'ADMIN' | 'SCIENTIST';

export interface User {
  user_id: string;
  name: string | null;
  username: string | null;
  email: string | null;
  role: Role;
  created_at: string;
  updated_at: string;
  erased_at: string | null;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface ExperimentDetails extends Experiment {
  sensor_count: number;
  last_measure_at: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface SensorStats {
  sensor: string;
  unit: string | null;
  count: number;
  first_timestamp: string | null;
  last_timestamp: string | null;
  last_value: number | null;
}

export interface Measure {
  experiment_id: string;
  sensor: string;
  timestamp: string;
  value: number;
  unit: string | null;
  tags: Record<string, string> | null;
}

export interface SummaryBucket {
  start: string;
  count: number;
  min: number;
  max: number;
  avg: number;
  first: number;
  last: number;
}

export interface Summary {
  experiment_id: string;
  bucket: string;
  bucket_ms: number;
  sensors: { sensor: string; buckets: SummaryBucket[] }[];
}

export const experimentPath = (id: string, rest = '') => `experiments/${encodeURIComponent(id)}${rest}`;
export const userPath = (id: string, rest = '') => `users/${encodeURIComponent(id)}${rest}`;
