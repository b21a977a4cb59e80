/**
 * fetch() for the JSON API: credentials, the error envelope, and failures turned into
 * an ApiError the pages can explain (lib/messages.ts). Nothing here shows raw errors.
 *
 * Credentials: staff requests send the session cookie (same origin) and, when the
 * server has no cookie login yet, the staff token kept in this tab's sessionStorage.
 * Candidate requests send the invite as a bearer token; it never goes in a URL.
 */
import { readStored } from '../lib/storage.js';

export const STAFF_TOKEN_KEY = 'opslab.staff-token';

export type Auth = { kind: 'staff' } | { kind: 'candidate'; invite: string } | { kind: 'none' };
export const STAFF: Auth = { kind: 'staff' };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The server's error code, or NETWORK / BAD_RESPONSE for failures before one. */
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /**
   * The server does not have this endpoint (yet): a 404 for the path itself, not for a
   * session or lab. The error envelope has one code for both, so this looks at the
   * message the server's catch-all uses ("no such endpoint: ...").
   */
  get endpointMissing(): boolean {
    return this.status === 404 && /^no such endpoint/i.test(this.message);
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

export function authHeaders(auth: Auth): Record<string, string> {
  if (auth.kind === 'candidate') return { authorization: `Bearer ${auth.invite}` };
  if (auth.kind === 'staff') {
    const token = readStored(STAFF_TOKEN_KEY);
    if (token) return { authorization: `Bearer ${token}` };
  }
  return {};
}

export interface RequestOptions {
  auth?: Auth;
  body?: unknown;
  signal?: AbortSignal;
  /** Answer the raw text instead of parsing JSON (recordings). */
  text?: boolean;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {
    accept: options.text ? '*/*' : 'application/json',
    // Marks the request as the app's own (a header a cross-site form cannot send).
    'x-requested-with': 'opslab',
    ...authHeaders(options.auth ?? STAFF),
  };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: options.signal, cache: 'no-store' });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'the opslab server could not be reached');
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    let code = `HTTP_${response.status}`;
    let message = response.statusText || 'request failed';
    let details: unknown;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
      if (parsed.error?.code) code = parsed.error.code;
      if (parsed.error?.message) message = parsed.error.message;
      details = parsed.error?.details;
    } catch {
      // not the JSON envelope (a proxy's page): keep the status
    }
    throw new ApiError(response.status, code, message, details);
  }
  if (options.text) return text as T;
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'BAD_RESPONSE', 'the server answered something that is not JSON');
  }
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, { ...options, body: body ?? {} }),
  put: <T>(path: string, body: unknown, options?: RequestOptions) => request<T>('PUT', path, { ...options, body }),
};
