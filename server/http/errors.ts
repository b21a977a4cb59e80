/**
 * The one place where errors become HTTP answers: `{"error": {"code", "message"}}`.
 * Anything that is not an AppError is logged and answered as INTERNAL without details,
 * so no stack trace or internal message ever reaches a client.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors.js';

export function errorBody(e: AppError): { error: { code: string; message: string; details?: unknown } } {
  return { error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } };
}

/** Maps body-parser failures (bad JSON, too large) to stable codes. */
function fromBodyParser(err: unknown): AppError | null {
  const type = (err as { type?: string } | null)?.type;
  if (type === 'entity.parse.failed') return new AppError('BAD_REQUEST', 'the request body is not valid JSON');
  if (type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppError('BAD_REQUEST', 'the request body has an unsupported encoding');
  }
  return null;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const appError = isAppError(err)
      ? err
      : err instanceof URIError
        ? // The router could not decode a path parameter (a malformed %-escape).
          new AppError('BAD_REQUEST', 'the path has a malformed %-escape')
        : fromBodyParser(err);
    if (appError) {
      res.status(appError.status).json(errorBody(appError));
      return;
    }
    logger.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
    res.status(500).json(errorBody(new AppError('INTERNAL', 'something went wrong on our side; it has been logged')));
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new AppError('NOT_FOUND', `no such endpoint: ${req.method} ${req.path}`));
};
