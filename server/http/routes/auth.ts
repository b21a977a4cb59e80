/**
 * Browser sign-in: trade a staff token for the `opslab_session` cookie (see ../web-auth.ts),
 * sign out, and ask who is signed in. Candidates never sign in: their invite stays a
 * Bearer token their page keeps in memory.
 */
import { Router } from 'express';
import { z } from 'zod';
import { hashToken } from '../../auth/tokens.js';
import { AppError } from '../../errors.js';
import { audit } from '../audit.js';
import { principalOf, type HttpDeps } from '../app.js';
import { SlidingWindowLimiter } from '../rate-limit.js';
import { parseBody } from '../validate.js';
import { authViaOf, fromOwnPage, LOGIN_TTL_MS, loginExpiresAtOf, newLoginId, readCookie, SESSION_COOKIE, type WebAuth } from '../web-auth.js';

const loginBody = z.object({ token: z.string().min(1).max(512) }).strict();

export function authRoutes(deps: HttpDeps, web: WebAuth, limiter = new SlidingWindowLimiter(10, 5 * 60_000)): Router {
  const r = Router();

  r.post('/auth/login', async (req, res) => {
    // Login CSRF: a page elsewhere must not sign the browser in as someone else.
    if (req.headers.origin !== undefined && !fromOwnPage(req, web.origins())) {
      throw new AppError('FORBIDDEN', 'cross-site sign-in refused');
    }
    // Failed sign-ins per client address: past 10 in 5 minutes, 429 until the oldest ages out.
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.retryAfterMs(client);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      throw new AppError('RATE_LIMITED', 'too many failed sign-ins; wait a few minutes and try again');
    }
    const body = parseBody(loginBody, req.body);
    // Counted as a failure before the token is looked up (and cleared if it is good), so
    // attempts sent all at once cannot each pass the check while the others are awaited.
    limiter.record(client);
    const p = await deps.auth.authenticate(body.token);
    if (!p) throw new AppError('UNAUTHENTICATED', 'that token is not valid');
    if (p.kind !== 'staff') {
      throw new AppError('FORBIDDEN', 'this is a candidate invite: candidates open their invite link and do not sign in');
    }
    limiter.clear(client);
    const logins = deps.store.logins;
    // Signing in again replaces this browser's earlier sign-in.
    const previous = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (previous) await logins.delete(hashToken(previous));
    await logins.purge();
    const id = newLoginId();
    const login = await logins.create({
      hash: hashToken(id),
      userId: p.userId,
      tokenHash: hashToken(body.token),
      ttlMs: LOGIN_TTL_MS,
    });
    web.setCookie(res, id);
    await audit(deps.store, req, p, 'auth.signed_in', null);
    res.setHeader('cache-control', 'no-store');
    res.json({ user: { id: p.userId, name: p.name, role: p.role }, expiresAt: login.expiresAt.toISOString() });
  });

  r.post('/auth/logout', async (req, res) => {
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie) await deps.store.logins.delete(hashToken(cookie));
    web.setCookie(res, null);
    res.status(204).end();
  });

  r.get('/auth/me', (req, res) => {
    const p = principalOf(req);
    if (!p) throw new AppError('UNAUTHENTICATED', 'not signed in');
    if (p.kind !== 'staff') throw new AppError('FORBIDDEN', 'staff only');
    res.setHeader('cache-control', 'no-store');
    res.json({
      user: { id: p.userId, name: p.name, role: p.role },
      via: authViaOf(req),
      expiresAt: loginExpiresAtOf(req)?.toISOString() ?? null,
    });
  });

  return r;
}
