import { describe, expect, it } from 'vitest';
import { bearerToken, generateToken, hashToken, safeEqual, TOKEN_PREFIX, verifyToken } from '../../../server/auth/tokens.js';

describe('tokens', () => {
  it('carries a readable prefix and 256 random bits', () => {
    for (const kind of ['staff', 'candidate', 'ticket'] as const) {
      const token = generateToken(kind);
      expect(token.startsWith(TOKEN_PREFIX[kind])).toBe(true);
      const body = token.slice(TOKEN_PREFIX[kind].length);
      expect(body).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(body, 'base64url')).toHaveLength(32);
    }
    expect(new Set(Array.from({ length: 100 }, () => generateToken('staff'))).size).toBe(100);
  });

  it('hashes with SHA-256 and verifies in constant time', () => {
    const token = generateToken('staff');
    const hash = hashToken(token);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(token);
    expect(verifyToken(token, hash)).toBe(true);
    expect(verifyToken(`${token}x`, hash)).toBe(false);
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });

  it('reads a bearer token from an Authorization header', () => {
    expect(bearerToken('Bearer osl_s_abc')).toBe('osl_s_abc');
    expect(bearerToken('bearer  osl_s_abc ')).toBe('osl_s_abc');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken('')).toBeNull();
  });
});
