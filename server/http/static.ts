/**
 * Serves the web app (web/dist, built by `npm run build:web`) at `/`.
 *
 * - `/assets/*` are Vite's content-hashed bundles: cached for a year, immutable.
 * - Every page the app routes in the browser (`/`, `/sessions`, `/s/:id`, `/observe/:id`,
 *   `/report/:id`, ...) answers index.html, revalidated on every load (`no-cache`), so a
 *   new build is picked up at once. Other paths a browser asks for as a page get
 *   index.html with status 404 (the app shows "page not found" in words).
 * - `/api/*` is never touched here: unknown API paths fall through to the JSON 404.
 * - When the app has not been built, a page request answers 503 with a short HTML note
 *   saying how to build it, instead of a JSON error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Response } from 'express';

export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** The pages the browser app routes itself (keep in step with web/src/router.ts). */
export const APP_ROUTES: readonly RegExp[] = [
  /^\/$/,
  /^\/sign-in\/?$/,
  /^\/sessions\/?$/,
  /^\/labs\/?$/,
  /^\/s\/[a-f0-9]{20}\/?$/,
  /^\/observe\/[a-f0-9]{20}\/?$/,
  /^\/report\/[a-f0-9]{20}\/?$/,
];

/**
 * What the pages may load and connect to: only this server. xterm and the player set
 * inline styles; the player compiles its WebAssembly terminal (hence wasm-unsafe-eval)
 * and may run it in a blob worker.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function pageHeaders(res: Response): void {
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  // The candidate's invite travels in the URL fragment; never pass the page URL on.
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>opslab</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; color: #1f2933">
<h1>The opslab web app is not built yet</h1>
<p>The API is running, but the pages have not been built on this machine. Run
<code>npm run build:web</code> (or start opslab with <code>bash scripts/start.sh</code>, which builds them),
then reload this page.</p>
</body></html>
`;

export function webApp(options: { dir?: string } = {}): Router {
  const dir = options.dir ?? WEB_DIST;
  const indexFile = path.join(dir, 'index.html');
  const router = Router();

  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), {
      index: false,
      fallthrough: true,
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
    }),
  );

  // Other files at the top of dist (favicon, ...): revalidated, never an index.
  router.use(
    express.static(dir, {
      index: false,
      fallthrough: true,
      setHeaders: (res, file) => {
        if (path.basename(file) === 'index.html') pageHeaders(res);
        else res.setHeader('cache-control', 'no-cache');
      },
    }),
  );

  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/api' || req.path.startsWith('/api/') || req.path.startsWith('/assets/')) return next();
    const known = APP_ROUTES.some((r) => r.test(req.path));
    // An unknown path that is not a page request (a script, an image) keeps the JSON 404.
    if (!known && !req.accepts('html')) return next();
    fs.readFile(indexFile, (err, html) => {
      pageHeaders(res);
      if (err) {
        res.status(503).type('html').send(NOT_BUILT);
        return;
      }
      res.status(known ? 200 : 404).type('html').send(html);
    });
  });

  return router;
}
