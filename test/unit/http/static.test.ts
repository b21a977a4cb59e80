/**
 * The web app's static serving (server/http/static.ts): pages the browser routes get
 * index.html without caching, hashed assets are cached for good, the API keeps its JSON
 * 404, and a server without a build says how to make one.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webApp } from '../../../server/http/static.js';

async function serve(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(webApp({ dir }));
  app.use((_req, res) => res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const HTML = { accept: 'text/html,application/xhtml+xml' };
const ID = 'a'.repeat(20);

describe('serving the web app', () => {
  let dist: string;
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'opslab-web-'));
    fs.mkdirSync(path.join(dist, 'assets'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>opslab</title>');
    fs.writeFileSync(path.join(dist, 'assets/index-abc123.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dist, 'favicon.svg'), '<svg/>');
    server = await serve(dist);
  });

  afterAll(async () => {
    await server.close();
    fs.rmSync(dist, { recursive: true, force: true });
  });

  it.each(['/', '/sessions', '/labs', '/sign-in', `/s/${ID}`, `/observe/${ID}`, `/report/${ID}`])('answers index.html for %s, revalidated every time', async (p) => {
    const r = await fetch(server.url + p, { headers: HTML });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await r.text()).toContain('<title>opslab</title>');
  });

  it('caches hashed assets for a year', async () => {
    const r = await fetch(`${server.url}/assets/index-abc123.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(r.headers.get('content-type')).toMatch(/javascript/);
  });

  it('serves other files of the build, revalidated', async () => {
    const r = await fetch(`${server.url}/favicon.svg`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers an unknown page with the app and status 404 (the app says "not found")', async () => {
    const r = await fetch(`${server.url}/no/such/page`, { headers: HTML });
    expect(r.status).toBe(404);
    expect(await r.text()).toContain('<title>opslab</title>');
  });

  it('leaves the API, missing assets and non-page requests to the JSON 404', async () => {
    for (const [p, headers] of [
      ['/api/nope', HTML],
      ['/api', HTML],
      ['/assets/missing.js', HTML],
      ['/no/such/file.json', { accept: 'application/json' }],
    ] as const) {
      const r = await fetch(server.url + p, { headers });
      expect(r.status, p).toBe(404);
      expect(r.headers.get('content-type'), p).toMatch(/application\/json/);
    }
  });

  it('does not answer other methods with the app', async () => {
    const r = await fetch(`${server.url}/sessions`, { method: 'POST', headers: HTML });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('says how to build the app when there is no build', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'opslab-web-empty-'));
    const bare = await serve(path.join(empty, 'dist'));
    try {
      const r = await fetch(`${bare.url}/sessions`, { headers: HTML });
      expect(r.status).toBe(503);
      expect(await r.text()).toContain('npm run build:web');
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
