/**
 * The web app's API on the real express app, a real SQLite store, the real
 * Authenticator and SessionService (no sandboxes: sessions are inserted directly, and
 * the one driver call, `archive`, is a fake). Covers the sign-in cookie and its CSRF
 * rule, notes, extending a session, the brief, and commits from a live or archived
 * workspace. Time is a manual clock.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestJson } from '../../helpers/server-process.js';
import { Authenticator } from '../../../server/auth/principal.js';
import type { TerminalTickets } from '../../../server/auth/tickets.js';
import { loadConfig, type Config } from '../../../server/config.js';
import { createApp } from '../../../server/http/app.js';
import { SlidingWindowLimiter } from '../../../server/http/rate-limit.js';
import { fromOwnPage, pageOrigins, readCookie, sessionCookie } from '../../../server/http/web-auth.js';
import { LabCatalog } from '../../../server/labs/catalog.js';
import type { SandboxDriver, SandboxRef } from '../../../server/sandbox/driver.js';
import { packDirectory } from '../../../server/sandbox/tar-pack.js';
import { SessionService } from '../../../server/sessions/service.js';
import { hashToken } from '../../../server/auth/tokens.js';
import { openSqliteStore, type SqliteStore } from '../../../server/store/store.js';
import { writeLab } from '../labs/fixtures.js';
import { addSession, addUser, manualClock, tempDir } from '../store/fixtures.js';

const MINUTE = 60_000;
const ORIGIN = 'http://localhost:8080';

interface Res<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

interface Harness {
  url: string;
  dir: string;
  config: Config;
  store: SqliteStore;
  clock: ReturnType<typeof manualClock>;
  service: SessionService;
  /** What the fake driver's `archive` streams (a directory packed as tar). */
  liveDir: string | null;
  call<T = Record<string, unknown>>(
    method: string,
    p: string,
    o?: { body?: unknown; raw?: string; token?: string; cookie?: string; headers?: Record<string, string> },
  ): Promise<Res<T>>;
  close(): Promise<void>;
}

async function harness(o: { publicUrl?: string; maxDurationMinutes?: number } = {}): Promise<Harness> {
  const { dir, cleanup } = tempDir('opslab-web-api-');
  const dataDir = path.join(dir, 'data');
  const labsDir = path.join(dir, 'labs');
  writeLab(labsDir, 'hello', { 'brief.md': '# Hello\n\nWrite `greeting.txt`.\n' });
  const { config } = loadConfig({
    env: {},
    cwd: dir,
    overrides: {
      dataDir,
      labsDir,
      server: { publicUrl: o.publicUrl ?? ORIGIN },
      sessions: { maxDurationMinutes: o.maxDurationMinutes ?? 240, defaultDurationMinutes: 60 },
    },
  });
  const clock = manualClock(Date.now());
  const store = openSqliteStore(path.join(dataDir, 'opslab.db'), { now: clock });
  const logger = pino({ level: 'silent' });
  const labs = LabCatalog.load(labsDir);
  const h = { liveDir: null } as Harness;
  const driver = {
    kind: 'fake',
    archive: () => {
      if (!h.liveDir) return Promise.reject(new Error('no sandbox'));
      return Promise.resolve(packDirectory(h.liveDir, { uid: 1000, gid: 1000 }));
    },
  } as unknown as SandboxDriver;
  const service = new SessionService({ config, store, driver, labs, logger, now: clock });
  const app = createApp({
    config,
    logger,
    version: '0.0.0-test',
    driverKind: 'local',
    auth: new Authenticator({ users: store.users, sessions: store.sessions, now: clock }),
    labs,
    sessions: service,
    tickets: {} as TerminalTickets,
    store,
    driver,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(h, {
    url,
    dir,
    config,
    store,
    clock,
    service,
    call<T>(method: string, p: string, c: { body?: unknown; raw?: string; token?: string; cookie?: string; headers?: Record<string, string> } = {}) {
      return requestJson<T>(`${url}${p}`, method, { ...c, rawBody: c.raw });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      cleanup();
    },
  });
}

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Signs in with `token`; returns the `name=value` to send back as the Cookie header, and the Set-Cookie line. */
async function signIn(token: string, headers: Record<string, string> = { origin: ORIGIN }) {
  const r = await h.call<{ user: { name: string; role: string }; expiresAt: string }>('POST', '/api/auth/login', { body: { token }, headers });
  const setCookie = r.headers.getSetCookie()[0] ?? '';
  return { r, setCookie, cookie: setCookie.split(';')[0] ?? '' };
}

describe('cookie helpers', () => {
  it('reads one cookie among others, and writes the attributes the browser needs', () => {
    expect(readCookie('a=1; opslab_session=osl_w_abc; b=2', 'opslab_session')).toBe('osl_w_abc');
    expect(readCookie('opslab_session="quoted"', 'opslab_session')).toBe('quoted');
    expect(readCookie('xopslab_session=1', 'opslab_session')).toBeNull();
    expect(readCookie(undefined, 'opslab_session')).toBeNull();
    expect(sessionCookie('v', { secure: false })).toBe('opslab_session=v; Path=/api; HttpOnly; SameSite=Strict; Max-Age=43200');
    expect(sessionCookie('v', { secure: true })).toMatch(/; Secure$/);
    expect(sessionCookie(null, { secure: false })).toMatch(/^opslab_session=; .*Max-Age=0/);
  });

  it('knows our own origins (127.0.0.1 for a localhost public URL) and Sec-Fetch-Site', () => {
    const origins = pageOrigins({ server: { publicUrl: 'http://localhost:8080', allowedOrigins: ['https://ui.example.com'] } } as Config);
    expect([...origins].sort()).toEqual(['http://127.0.0.1:8080', 'http://localhost:8080', 'https://ui.example.com']);
    expect(fromOwnPage({ headers: { origin: 'http://127.0.0.1:8080' } }, origins)).toBe(true);
    expect(fromOwnPage({ headers: { origin: 'http://evil.example' } }, origins)).toBe(false);
    expect(fromOwnPage({ headers: { origin: 'null' } }, origins)).toBe(false);
    expect(fromOwnPage({ headers: {} }, origins)).toBe(false);
    expect(fromOwnPage({ headers: { 'sec-fetch-site': 'same-origin' } }, origins)).toBe(true);
    expect(fromOwnPage({ headers: { 'sec-fetch-site': 'same-site' } }, origins)).toBe(false);
  });

  it('limits failures per client in a sliding window', () => {
    const clock = manualClock();
    const l = new SlidingWindowLimiter(3, 60_000, clock);
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfterMs('a')).toBe(0);
      l.record('a');
      clock.advance(1000);
    }
    expect(l.retryAfterMs('a')).toBe(57_000);
    expect(l.retryAfterMs('b')).toBe(0);
    clock.advance(57_000);
    expect(l.retryAfterMs('a')).toBe(0);
    l.record('a');
    l.clear('a');
    expect(l.retryAfterMs('a')).toBe(0);
  });
});

describe('sign-in with a cookie', () => {
  beforeEach(async () => {
    h = await harness();
  });

  it('sets an HttpOnly, SameSite=Strict cookie on /api that works like the token', async () => {
    const { user, token } = await addUser(h.store, 'grace', 'interviewer');
    const { r, setCookie, cookie } = await signIn(token);
    expect(r.status).toBe(200);
    expect(r.body.user).toEqual({ id: user.id, name: 'grace', role: 'interviewer' });
    expect(Date.parse(r.body.expiresAt) - h.clock().getTime()).toBe(12 * 60 * MINUTE);
    expect(setCookie).toMatch(/^opslab_session=osl_w_[A-Za-z0-9_-]{43}; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    // Only the hash is stored, and it is not the token's.
    const value = cookie.split('=')[1] ?? '';
    const rows = h.store.db.prepare('SELECT hash, token_hash FROM web_logins').all() as { hash: string; token_hash: string }[];
    expect(rows).toEqual([{ hash: hashToken(value), token_hash: hashToken(token) }]);

    const me = await h.call('GET', '/api/auth/me', { cookie });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { name: 'grace', role: 'interviewer' }, via: 'cookie', expiresAt: r.body.expiresAt });
    const list = await h.call('GET', '/api/sessions', { cookie });
    expect(list.status).toBe(200);
    expect((await h.call('GET', '/api/auth/me', { token })).body).toMatchObject({ via: 'bearer', expiresAt: null });
    expect((await h.call('GET', '/api/auth/me')).status).toBe(401);
    expect((await h.call('GET', '/api/sessions', { cookie: 'opslab_session=osl_w_forged' })).status).toBe(401);
  });

  it('sets Secure when the public URL is https', async () => {
    await h.close();
    h = await harness({ publicUrl: 'https://opslab.example.com' });
    const { token } = await addUser(h.store, 'grace');
    const { setCookie } = await signIn(token, { origin: 'https://opslab.example.com' });
    expect(setCookie).toMatch(/; Secure$/);
  });

  it('refuses candidate invites, unknown tokens, bad bodies and foreign pages', async () => {
    const { user } = await addUser(h.store, 'grace');
    const { invite } = await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) });
    expect((await signIn(invite)).r).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect((await signIn('osl_s_nope')).r).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    const bad = await h.call('POST', '/api/auth/login', { body: { token: '' }, headers: { origin: ORIGIN } });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION' } } });
    const { token } = await addUser(h.store, 'ada');
    expect((await signIn(token, { origin: 'http://evil.example' })).r.status).toBe(403);
    // No Origin at all (curl, scripts) is fine.
    expect((await signIn(token, {})).r.status).toBe(200);
  });

  it('rate-limits failed sign-ins from one address', async () => {
    const { token } = await addUser(h.store, 'grace');
    for (let i = 0; i < 10; i++) expect((await signIn(`osl_s_wrong${i}`)).r.status).toBe(401);
    const limited = await signIn(token);
    expect(limited.r).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED' } } });
    expect(Number(limited.r.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses cookie writes without our Origin or Sec-Fetch-Site: same-origin; bearer writes are unaffected', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const { session } = await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) });
    const { cookie } = await signIn(token);
    const put = (headers: Record<string, string>, auth: { cookie?: string; token?: string } = { cookie }) =>
      h.call('PUT', `/api/sessions/${session.id}/notes`, { ...auth, body: { text: 'x' }, headers });

    expect(await put({})).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect((await put({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await put({ origin: 'null' })).status).toBe(403);
    expect((await put({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await put({ origin: ORIGIN })).status).toBe(200);
    expect((await put({ origin: 'http://127.0.0.1:8080' })).status).toBe(200);
    expect((await put({ 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    // The extend and grade routes are behind the same rule (refused before the handler).
    expect((await h.call('POST', `/api/sessions/${session.id}/extend`, { cookie, body: { minutes: 5 } })).status).toBe(403);
    // Reads need no Origin.
    expect((await h.call('GET', `/api/sessions/${session.id}/notes`, { cookie })).status).toBe(200);
    // Bearer: no Origin needed, and a foreign one does not matter.
    expect((await put({}, { token })).status).toBe(200);
    expect((await put({ origin: 'http://evil.example' }, { token })).status).toBe(200);
  });

  it('judges a request with an Authorization header by it alone, never by the cookie', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const { session, invite } = await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) });
    const { cookie } = await signIn(token);
    // The candidate's page in a browser where the interviewer is signed in: acts as the candidate.
    const asCandidate = await h.call('GET', `/api/sessions/${session.id}/notes`, { cookie, token: invite });
    expect(asCandidate.status).toBe(403);
    const badBearer = await h.call('GET', '/api/sessions', { cookie, token: 'osl_s_wrong' });
    expect(badBearer.status).toBe(401);
  });

  it('ends on logout, after 12 hours, and when the user\'s token is rotated', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const a = await signIn(token);
    const out = await h.call('POST', '/api/auth/logout', { cookie: a.cookie, headers: { origin: ORIGIN } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^opslab_session=; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=0/);
    expect((await h.call('GET', '/api/auth/me', { cookie: a.cookie })).status).toBe(401);
    // Logging out without a cookie (or again) is fine.
    expect((await h.call('POST', '/api/auth/logout')).status).toBe(204);

    const b = await signIn(token);
    h.clock.advance(12 * 60 * MINUTE - 1000);
    expect((await h.call('GET', '/api/auth/me', { cookie: b.cookie })).status).toBe(200);
    h.clock.advance(1000);
    expect((await h.call('GET', '/api/auth/me', { cookie: b.cookie })).status).toBe(401);

    const c = await signIn(token);
    await h.store.users.setTokenHash(user.id, hashToken('osl_s_rotated'));
    expect((await h.call('GET', '/api/auth/me', { cookie: c.cookie })).status).toBe(401);
  });

  it('replaces this browser\'s earlier sign-in when signing in again', async () => {
    const { token } = await addUser(h.store, 'grace');
    const a = await signIn(token);
    const b = await signIn(token, { origin: ORIGIN, cookie: a.cookie });
    expect(b.r.status).toBe(200);
    expect((await h.call('GET', '/api/auth/me', { cookie: a.cookie })).status).toBe(401);
    expect((await h.call('GET', '/api/auth/me', { cookie: b.cookie })).status).toBe(200);
  });
});

describe('notes', () => {
  beforeEach(async () => {
    h = await harness();
  });

  it('keeps one note per staff user per session, last write wins, readable by all staff only', async () => {
    const grace = await addUser(h.store, 'grace');
    const alan = await addUser(h.store, 'alan', 'author');
    const { session, invite } = await addSession(h.store, grace.user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) });
    const notes = `/api/sessions/${session.id}/notes`;
    expect((await h.call('GET', notes, { token: grace.token })).body).toEqual({ notes: [] });

    const first = await h.call('PUT', notes, { token: grace.token, body: { text: 'Reads the brief carefully.' } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ author: 'grace', authorId: grace.user.id, mine: true, text: 'Reads the brief carefully.' });
    h.clock.advance(2000);
    const second = await h.call('PUT', notes, { token: grace.token, body: { text: 'Reads the brief carefully. Tests first.' } });
    expect(second.body.id).toBe(first.body.id);
    expect(Date.parse(second.body.updatedAt as string) - Date.parse(first.body.updatedAt as string)).toBe(2000);
    expect(second.body.createdAt).toBe(first.body.createdAt);
    await h.call('PUT', notes, { token: alan.token, body: { text: 'Good commits.' } });

    const list = await h.call<{ notes: Record<string, unknown>[] }>('GET', notes, { token: alan.token });
    expect(list.body.notes.map((n) => [n.author, n.text, n.mine])).toEqual([
      ['grace', 'Reads the brief carefully. Tests first.', false],
      ['alan', 'Good commits.', true],
    ]);
    // Cleared notes drop out of the list.
    await h.call('PUT', notes, { token: alan.token, body: { text: '' } });
    expect((await h.call<{ notes: unknown[] }>('GET', notes, { token: grace.token })).body.notes).toHaveLength(1);

    expect((await h.call('GET', notes, { token: invite })).status).toBe(403);
    expect((await h.call('PUT', notes, { token: invite, body: { text: 'I am great' } })).status).toBe(403);
    expect((await h.call('GET', notes)).status).toBe(401);
    expect((await h.call('GET', '/api/sessions/0123456789abcdef0123/notes', { token: grace.token })).status).toBe(404);
    expect((await h.call('GET', '/api/sessions/../notes', { token: grace.token })).status).toBe(404);
  });

  it('takes a note of 64 KiB even when JSON escapes make the body larger, and refuses more', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const { session } = await addSession(h.store, user.id, { state: 'ended' });
    const notes = `/api/sessions/${session.id}/notes`;
    const full = '\n'.repeat(64 * 1024); // 64 KiB of text, 128 KiB of JSON
    const ok = await h.call('PUT', notes, { token, body: { text: full } });
    expect(ok.status).toBe(200);
    expect((ok.body.text as string).length).toBe(64 * 1024);
    const over = await h.call('PUT', notes, { token, body: { text: `${'é'.repeat(32 * 1024)}x` } });
    expect(over).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION' } } });
    const bad = await h.call('PUT', notes, { token, body: { text: 1 } });
    expect(bad.status).toBe(400);
    const extra = await h.call('PUT', notes, { token, body: { text: 'a', author: 'someone else' } });
    expect(extra.status).toBe(400);
    const huge = await h.call('PUT', notes, { token, raw: JSON.stringify({ text: 'x'.repeat(600 * 1024) }) });
    expect(huge).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    // Other routes keep the 64 kB limit.
    const other = await h.call('POST', `/api/sessions/${session.id}/extend`, { token, raw: JSON.stringify({ minutes: 5, pad: 'x'.repeat(70 * 1024) }) });
    expect(other.status).toBe(413);
  });
});

describe('extending a session', () => {
  beforeEach(async () => {
    h = await harness({ maxDurationMinutes: 90 });
  });

  it('moves expiresAt, records an extended event, and caps the total at the maximum duration', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const created = h.clock().getTime();
    const { session, invite } = await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(created + 60 * MINUTE) });
    const extend = (minutes: unknown, t = token) => h.call('POST', `/api/sessions/${session.id}/extend`, { token: t, body: { minutes } });

    const r = await extend(15);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: session.id, state: 'ready', addedMinutes: 15, expiresAt: new Date(created + 75 * MINUTE).toISOString() });
    expect((await h.store.sessions.get(session.id))?.expiresAt?.getTime()).toBe(created + 75 * MINUTE);

    // Capped: 90 minutes from creation at most.
    const capped = await extend(60);
    expect(capped.body).toMatchObject({ addedMinutes: 15, expiresAt: new Date(created + 90 * MINUTE).toISOString() });
    const full = await extend(1);
    expect(full).toMatchObject({ status: 409, body: { error: { code: 'WRONG_STATE', details: { maxDurationMinutes: 90 } } } });

    const events = (await h.store.events.list(session.id)).filter((e) => e.type === 'extended');
    expect(events.map((e) => e.data)).toEqual([
      { expiresAt: new Date(created + 75 * MINUTE).toISOString(), addedMinutes: 15, by: 'staff:grace' },
      { expiresAt: new Date(created + 90 * MINUTE).toISOString(), addedMinutes: 15, by: 'staff:grace' },
    ]);

    // The candidate's invite lives until the new end.
    h.clock.advance(80 * MINUTE);
    expect((await h.call('GET', `/api/sessions/${session.id}`, { token: invite })).status).toBe(200);

    for (const bad of [0, 121, 1.5, '5', null]) expect((await extend(bad)).status, String(bad)).toBe(400);
    expect((await extend(5, invite)).status).toBe(403);
  });

  it('refuses a session that is over or whose time is up', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const ended = (await addSession(h.store, user.id, { state: 'ended' })).session;
    const due = (await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() - 1) })).session;
    for (const s of [ended, due]) {
      const r = await h.call('POST', `/api/sessions/${s.id}/extend`, { token, body: { minutes: 5 } });
      expect(r).toMatchObject({ status: 409, body: { error: { code: 'WRONG_STATE' } } });
    }
    expect((await h.call('POST', '/api/sessions/0123456789abcdef0123/extend', { token, body: { minutes: 5 } })).status).toBe(404);
  });
});

describe('the brief', () => {
  beforeEach(async () => {
    h = await harness();
  });

  it('is there for the session\'s candidate and staff, not for another candidate', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const expiresAt = new Date(h.clock().getTime() + 60 * MINUTE);
    const { session, invite } = await addSession(h.store, user.id, { state: 'ready', expiresAt });
    const other = await addSession(h.store, user.id, { state: 'ready', expiresAt });
    const brief = `/api/sessions/${session.id}/brief`;
    const r = await h.call('GET', brief, { token: invite });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ lab: { id: 'hello', title: 'Tiny lab' }, title: 'Tiny lab', brief: '# Hello\n\nWrite `greeting.txt`.\n' });
    expect((await h.call('GET', brief, { token })).status).toBe(200);
    expect((await h.call('GET', brief, { token: other.invite })).status).toBe(403);
    expect((await h.call('GET', brief)).status).toBe(401);
  });
});

describe('commits and diff', () => {
  let repo: string;
  let start: string;
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], {
      env: { PATH: process.env.PATH, HOME: repo, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' },
    })
      .toString()
      .trim();

  beforeEach(async () => {
    h = await harness();
    repo = path.join(h.dir, 'workspace');
    fs.mkdirSync(repo);
    git('init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(repo, 'README.md'), '# Start\n');
    git('add', '.');
    git('commit', '-qm', 'Start of the exercise');
    start = git('rev-parse', 'HEAD');
    fs.writeFileSync(path.join(repo, 'greeting.txt'), 'hello\n');
    fs.writeFileSync(path.join(repo, 'data.bin'), Buffer.from([0, 1, 2, 0]));
    git('add', '.');
    git('commit', '-qm', 'Say hello');
    fs.writeFileSync(path.join(repo, 'README.md'), '# Start\n\nDone.\n');
    git('commit', '-qam', 'Explain');
  });

  /** A hostile config (after the test's own git commands): none of it may run when the server reads the repository. */
  const poison = () => {
    const marker = path.join(h.dir, 'pwned');
    fs.appendFileSync(path.join(repo, '.git', 'config'), `[core]\n\tfsmonitor = "touch ${marker}"\n\tpager = "touch ${marker}"\n[diff]\n\texternal = "touch ${marker}"\n`);
  };

  const withStart = (id: string) => h.store.sessions.setStartCommit(id, start);

  it('reads a live workspace through the driver, safely', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const { session, invite } = await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) });
    await withStart(session.id);
    await h.store.sessions.setSandbox(session.id, { sessionId: session.id, driver: 'local', id: 'x' } satisfies SandboxRef);
    h.liveDir = repo;
    poison();
    const r = await h.call<Record<string, unknown> & { commits: { subject: string; author: string; files: unknown[] }[] }>('GET', `/api/sessions/${session.id}/commits`, { token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ source: 'live', start, branch: 'main', truncated: false, commitsTruncated: false, warning: null });
    expect(r.body.commits.map((c) => [c.subject, c.author])).toEqual([
      ['Say hello', 'Ada'],
      ['Explain', 'Ada'],
    ]);
    expect(r.body.commits[0]?.files).toEqual([
      { path: 'data.bin', additions: null, deletions: null },
      { path: 'greeting.txt', additions: 1, deletions: 0 },
    ]);
    expect(r.body.files).toEqual([
      { path: 'README.md', additions: 2, deletions: 0 },
      { path: 'data.bin', additions: null, deletions: null },
      { path: 'greeting.txt', additions: 1, deletions: 0 },
    ]);
    expect(r.body.diff).toContain('+++ b/greeting.txt\n@@ -0,0 +1 @@\n+hello\n');
    expect(r.body.diff).toContain('Binary files /dev/null and b/data.bin differ');
    expect(fs.existsSync(path.join(h.dir, 'pwned'))).toBe(false);
    expect((await h.call('GET', `/api/sessions/${session.id}/commits`, { token: invite })).status).toBe(403);
  });

  it('reads an ended session from its archived workspace, and cuts a long diff at a line end', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const { session } = await addSession(h.store, user.id, { state: 'ended' });
    await withStart(session.id);
    fs.writeFileSync(path.join(repo, 'big.txt'), Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n'));
    git('add', 'big.txt');
    git('commit', '-qm', 'Big');
    poison();
    const file = h.service.workspaceArchivePath(session.id);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await pipeline(packDirectory(repo, { uid: 1000, gid: 1000 }), createGzip(), fs.createWriteStream(file));
    const r = await h.call<{ source: string; diff: string; truncated: boolean; commits: unknown[] }>('GET', `/api/sessions/${session.id}/commits`, { token });
    expect(r.status).toBe(200);
    expect(r.body.source).toBe('archive');
    expect(r.body.commits).toHaveLength(3);
    expect(r.body.truncated).toBe(true);
    expect(Buffer.byteLength(r.body.diff)).toBeLessThanOrEqual(512 * 1024);
    expect(r.body.diff.endsWith('\n')).toBe(true);
    expect(fs.existsSync(path.join(h.dir, 'pwned'))).toBe(false);
  });

  it('says what is wrong when the start is gone, and answers 404 / 409 without a workspace', async () => {
    const { user, token } = await addUser(h.store, 'grace');
    const live = (await addSession(h.store, user.id, { state: 'ready', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) })).session;
    await h.store.sessions.setStartCommit(live.id, 'f'.repeat(40));
    await h.store.sessions.setSandbox(live.id, { sessionId: live.id, driver: 'local', id: 'x' } satisfies SandboxRef);
    h.liveDir = repo;
    const r = await h.call<{ start: unknown; warning: string; commits: unknown[] }>('GET', `/api/sessions/${live.id}/commits`, { token });
    expect(r.body.start).toBeNull();
    expect(r.body.warning).toMatch(/no longer in the repository/);
    expect(r.body.commits).toHaveLength(3);

    fs.rmSync(path.join(repo, '.git'), { recursive: true, force: true });
    const gone = await h.call<{ warning: string; commits: unknown[]; diff: string }>('GET', `/api/sessions/${live.id}/commits`, { token });
    expect(gone.status).toBe(200);
    expect(gone.body).toMatchObject({ commits: [], diff: '', warning: expect.stringMatching(/not a git repository/) });

    const failed = (await addSession(h.store, user.id, { state: 'failed' })).session;
    expect((await h.call('GET', `/api/sessions/${failed.id}/commits`, { token })).status).toBe(404);
    const starting = (await addSession(h.store, user.id, { state: 'starting', expiresAt: new Date(h.clock().getTime() + 60 * MINUTE) })).session;
    expect((await h.call('GET', `/api/sessions/${starting.id}/commits`, { token })).status).toBe(409);
  });
});

describe('health probes', () => {
  it('answers liveness always, and readiness only while the database answers', async () => {
    h = await harness();
    expect((await h.call('GET', '/api/health/live')).body).toEqual({ status: 'ok' });
    expect(await h.call('GET', '/api/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
    // The database goes away (closed under the running server): not ready, still alive.
    h.store.db.close();
    const ready = await h.call<{ status: string; reason: string }>('GET', '/api/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('unavailable');
    expect(ready.body.reason).toContain('sqlite database does not answer');
    expect((await h.call('GET', '/api/health/live')).status).toBe(200);
  });
});
