import type { z } from 'zod';
import { AppError } from '../errors.js';

/** Parses `value` with `schema` or throws VALIDATION naming every field that is wrong. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown, what = 'body'): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => ({
    field: i.path.map(String).join('.') || what,
    message: i.message,
  }));
  throw new AppError('VALIDATION', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { details: problems });
}

/** Session and lab ids are plain tokens; anything else (dots, slashes, encodings) is simply not found. */
export const SESSION_ID = /^[a-f0-9]{20}$/;

export function sessionIdParam(value: unknown): string {
  if (typeof value !== 'string' || !SESSION_ID.test(value)) throw new AppError('NOT_FOUND', 'no such session');
  return value;
}
