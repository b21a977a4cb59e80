/**
 * Who is calling, for every request: a Bearer token (staff token or candidate invite), or
 * else the browser's sign-in cookie from `POST /api/auth/login`.
 *
 * The cookie (`opslab_session`, HttpOnly, SameSite=Strict, Path=/api, Secure behind an
 * https public URL) holds a random id; the server keeps only its SHA-256 with the user
 * and an expiry (12 h), in `web_logins`. A Bearer header always wins over the cookie, so
 * a candidate's page on the same origin as a signed-in interviewer acts as the candidate.
 *
 * CSRF: SameSite=Strict already keeps the cookie off cross-site requests; on top of that,
 * a cookie-authenticated request that changes something (anything but GET, HEAD, OPTIONS)
 * must show it comes from our own page: an allowed `Origin`, or `Sec-Fetch-Site:
 * same-origin`. Otherwise it is refused `403 FORBIDDEN` before any handler runs. Bearer
 * requests are not affected (a browser never attaches a bearer token by itself).
 */
import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Authenticator, Principal } from '../auth/principal.js';
import { bearerToken, hashToken } from '../auth/tokens.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { LoginsRepo } from '../store/logins-repo.js';

export const SESSION_COOKIE = 'opslab_session';
/** How long a browser sign-in lasts (absolute, not sliding). */
export const LOGIN_TTL_MS = 12 * 60 * 60 * 1000;
/** Prefix of the cookie value, so a leaked one says what it is. */
const COOKIE_PREFIX = 'osl_w_';
/** Longer than any cookie value we issue; longer ones are ignored unhashed. */
const MAX_COOKIE_VALUE = 128;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type AuthVia = 'bearer' | 'cookie' | null;

interface AuthedRequest extends Request {
  principal?: Principal | null;
  authVia?: AuthVia;
  loginExpiresAt?: Date;
}

/** How this request authenticated (`null` when it did not). */
export function authViaOf(req: Request): AuthVia {
  return (req as AuthedRequest).authVia ?? null;
}

/** When the cookie sign-in of this request ends (only for cookie requests). */
export function loginExpiresAtOf(req: Request): Date | null {
  return (req as AuthedRequest).loginExpiresAt ?? null;
}

/** The value of cookie `name` in a `Cookie` header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value;
  }
  return null;
}

/** A new cookie value: prefix and 256 random bits. */
export function newLoginId(): string {
  return COOKIE_PREFIX + randomBytes(32).toString('base64url');
}

/** `Set-Cookie` for the sign-in cookie; `value: null` clears it. */
export function sessionCookie(value: string | null, o: { secure: boolean; maxAgeMs?: number }): string {
  const parts = [`${SESSION_COOKIE}=${value ?? ''}`, 'Path=/api', 'HttpOnly', 'SameSite=Strict'];
  if (value === null) parts.push('Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  else parts.push(`Max-Age=${Math.floor((o.maxAgeMs ?? LOGIN_TTL_MS) / 1000)}`);
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}

/**
 * The origins our own pages are served from: `server.allowedOrigins` (which holds the
 * public URL's origin) and, for a localhost public URL, the 127.0.0.1 spelling too
 * (the same rule as the terminal WebSocket's Origin check in main.ts).
 */
export function pageOrigins(config: Pick<Config, 'server'>): Set<string> {
  const origins = new Set(config.server.allowedOrigins);
  const pub = new URL(config.server.publicUrl);
  origins.add(pub.origin);
  if (pub.hostname === 'localhost') origins.add(`${pub.protocol}//127.0.0.1${pub.port ? `:${pub.port}` : ''}`);
  return origins;
}

/** Whether the request says it comes from one of our pages (see the file comment). */
export function fromOwnPage(req: Pick<Request, 'headers'>, origins: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origins.has(origin)) return true;
  return req.headers['sec-fetch-site'] === 'same-origin';
}

export interface WebAuthDeps {
  config: Pick<Config, 'server'>;
  auth: Pick<Authenticator, 'authenticate'>;
  /** Absent only in tests that build the app without a store; cookies then authenticate nobody. */
  logins?: Pick<LoginsRepo, 'findUser'>;
}

export interface WebAuth {
  /** Sets the request's principal (Bearer first, then the cookie) and refuses cross-site cookie writes. */
  middleware: RequestHandler;
  origins(): ReadonlySet<string>;
  secureCookies(): boolean;
  /** Sets or clears the sign-in cookie on a response. */
  setCookie(res: Response, value: string | null): void;
}

export function webAuth(deps: WebAuthDeps): WebAuth {
  // Computed on first use: the app is also built with stub configs (route-table tests).
  let origins: Set<string> | undefined;
  const getOrigins = () => (origins ??= pageOrigins(deps.config));
  const secure = () => new URL(deps.config.server.publicUrl).protocol === 'https:';

  const middleware: RequestHandler = async (req, _res, next) => {
    const r = req as AuthedRequest;
    const bearer = bearerToken(req.headers.authorization);
    if (bearer !== null || req.headers.authorization !== undefined) {
      // Any Authorization header decides alone: a bad token is not rescued by a cookie.
      r.principal = await deps.auth.authenticate(bearer);
      r.authVia = r.principal ? 'bearer' : null;
      next();
      return;
    }
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    const found = cookie && cookie.length <= MAX_COOKIE_VALUE ? await deps.logins?.findUser(hashToken(cookie)) : undefined;
    if (!found) {
      r.principal = null;
      r.authVia = null;
      next();
      return;
    }
    if (!SAFE_METHODS.has(req.method) && !fromOwnPage(req, getOrigins())) {
      next(
        new AppError(
          'FORBIDDEN',
          'cross-site request refused: a request signed in by cookie must come from the opslab page (Origin or Sec-Fetch-Site)',
        ),
      );
      return;
    }
    r.principal = { kind: 'staff', userId: found.user.id, name: found.user.name, role: found.user.role };
    r.authVia = 'cookie';
    r.loginExpiresAt = found.expiresAt;
    next();
  };

  return {
    middleware,
    origins: getOrigins,
    secureCookies: secure,
    setCookie(res, value) {
      res.append('set-cookie', sessionCookie(value, { secure: secure() }));
    },
  };
}
