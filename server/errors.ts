/**
 * One error class with stable codes. Modules throw `AppError`; the HTTP layer turns it
 * into `{"error": {"code", "message"}}` with the status below, in one place
 * (server/http/errors.ts). Tests assert codes, never message text.
 */
export const ERROR_STATUS = {
  VALIDATION: 400,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  WRONG_STATE: 409,
  TICKET_INVALID: 401,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SANDBOX_FAILED: 502,
  NO_CAPACITY: 503,
  DRIVER_UNSAFE: 503,
  /** Another replica holds the session and does not answer; it is taken over within seconds. */
  REPLICA_UNAVAILABLE: 503,
  LAB_INVALID: 422,
  CONFIG_INVALID: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** A readable one-line description of anything thrown, for logs and `failed` reasons. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
