import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Readable prefixes: a leaked token says what it is, and secret scanners can match it.
 * Tokens configured by an operator (OPSLAB_ADMIN_TOKEN) may have no prefix.
 */
export const TOKEN_PREFIX = {
  staff: 'osl_s_',
  candidate: 'osl_c_',
  ticket: 'osl_t_',
} as const;
export type TokenKind = keyof typeof TOKEN_PREFIX;

/** 256 random bits. */
const TOKEN_BYTES = 32;

/** A new secret token: the kind's prefix and 256 random bits, base64url. */
export function generateToken(kind: TokenKind): string {
  return TOKEN_PREFIX[kind] + randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * What is stored instead of a token: SHA-256, hex. A fast unsalted hash is right here
 * because the generated tokens carry 256 random bits: there is nothing to brute-force,
 * and a slow KDF would only add latency to every request. (Operator-chosen admin tokens
 * must be at least 24 characters; choose them random too.)
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time string equality (compares digests, so lengths may differ). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Whether `token` hashes to `hash`, compared in constant time. */
export function verifyToken(token: string, hash: string): boolean {
  return safeEqual(hashToken(token), hash);
}

/** The token from an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1] ?? null;
}
