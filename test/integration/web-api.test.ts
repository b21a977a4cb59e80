/**
 * The API the web app uses, on the real server against the real engine: an interviewer
 * signs in with a cookie (and is refused a cross-site write), takes notes, extends the
 * session (the candidate's terminal hears of it; the maximum caps it), reads the
 * candidate's commits and diff while live and after the end, and the candidate reads
 * the brief.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, openTerminal, PROMPT, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import type { TerminalClient } from '../helpers/terminal-client.js';

type ErrorBody = { error: { code: string } };
interface Commits {
  source: string;
  start: string;
  branch: string;
  commits: { subject: string; author: string; files: { path: string; additions: number | null; deletions: number | null }[] }[];
  files: { path: string }[];
  diff: string;
  truncated: boolean;
  warning: string | null;
}

const MAX_MINUTES = 40; // the hello lab books 15

describe('the web app API', () => {
  let server: ServerProcess;
  let session: CreatedSession;
  let cookie: string;
  let candidate: TerminalClient | undefined;
  // The server's own page, as the browser would name it.
  let origin: string;

  beforeAll(async () => {
    server = await ServerProcess.start({ OPSLAB_SESSION_MAX_MINUTES: String(MAX_MINUTES), OPSLAB_SESSION_DEFAULT_MINUTES: '15' });
    origin = server.url;
    session = await createSession(server);
    await waitForState(server, session.id, 'ready');
  });

  afterAll(async () => {
    await candidate?.close().catch(() => undefined);
    if (session) await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
    await server?.stop();
  });

  /** A request signed in by the cookie only (no Authorization header). */
  const asBrowser = <T = Record<string, unknown>>(method: string, p: string, o: { body?: unknown; headers?: Record<string, string> } = {}) =>
    server.api<T>(method, p, { token: null, body: o.body, headers: { cookie, ...o.headers } });

  it('signs the interviewer in with an HttpOnly cookie that works for GET /api/sessions', async () => {
    const login = await server.api<{ user: { name: string; role: string } }>('POST', '/api/auth/login', {
      token: null,
      body: { token: server.adminToken },
      headers: { origin },
    });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ name: 'admin', role: 'admin' });
    const setCookie = login.headers.getSetCookie()[0] ?? '';
    expect(setCookie).toMatch(/^opslab_session=osl_w_[^;]+; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    cookie = setCookie.split(';')[0] ?? '';

    const list = await asBrowser<{ sessions: { id: string }[] }>('GET', '/api/sessions');
    expect(list.status).toBe(200);
    expect(list.body.sessions.map((s) => s.id)).toContain(session.id);
    expect((await asBrowser('GET', '/api/auth/me')).body).toMatchObject({ user: { name: 'admin' }, via: 'cookie' });
    expect((await server.api('GET', '/api/sessions', { token: null })).status).toBe(401);
  });

  it('refuses a cookie write that does not come from our page, and the candidate cannot sign in', async () => {
    const noOrigin = await asBrowser<ErrorBody>('PUT', `/api/sessions/${session.id}/notes`, { body: { text: 'x' } });
    expect(noOrigin.status).toBe(403);
    expect(noOrigin.body.error.code).toBe('FORBIDDEN');
    const foreign = await asBrowser('POST', `/api/sessions/${session.id}/extend`, { body: { minutes: 5 }, headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    const end = await asBrowser('POST', `/api/sessions/${session.id}/end`, { headers: { origin: 'http://evil.example' } });
    expect(end.status).toBe(403);
    expect((await server.api<{ state: string }>('GET', `/api/sessions/${session.id}`)).body.state).toBe('ready');

    const asCandidate = await server.api('POST', '/api/auth/login', { token: null, body: { token: session.candidateToken }, headers: { origin } });
    expect(asCandidate.status).toBe(403);
  });

  it('saves notes as the interviewer types and lists them for staff only', async () => {
    const notes = `/api/sessions/${session.id}/notes`;
    for (const text of ['Starts', 'Starts by reading', 'Starts by reading the brief.']) {
      const r = await asBrowser('PUT', notes, { body: { text }, headers: { origin } });
      expect(r.status).toBe(200);
    }
    const list = await asBrowser<{ notes: { author: string; text: string; mine: boolean }[] }>('GET', notes);
    expect(list.body.notes).toEqual([expect.objectContaining({ author: 'admin', text: 'Starts by reading the brief.', mine: true })]);
    expect((await server.api('GET', notes, { token: session.candidateToken })).status).toBe(403);
  });

  it('shows the candidate the brief', async () => {
    const r = await server.api<{ lab: { id: string; title: string }; brief: string }>('GET', `/api/sessions/${session.id}/brief`, {
      token: session.candidateToken,
    });
    expect(r.status).toBe(200);
    expect(r.body.lab).toEqual({ id: 'hello', title: 'Hello, opslab' });
    expect(r.body.brief).toMatch(/greeting\.txt/);
  });

  it('extends the session, tells the candidate\'s terminal, and stops at the maximum', async () => {
    candidate = await openTerminal(server, session.id, session.candidateToken);
    const before = (await server.api<{ expiresAt: string; createdAt: string }>('GET', `/api/sessions/${session.id}`)).body;
    const r = await asBrowser<{ expiresAt: string; addedMinutes: number }>('POST', `/api/sessions/${session.id}/extend`, {
      body: { minutes: 10 },
      headers: { origin },
    });
    expect(r.status).toBe(200);
    expect(r.body.addedMinutes).toBe(10);
    expect(Date.parse(r.body.expiresAt) - Date.parse(before.expiresAt)).toBe(10 * 60_000);
    await candidate.waitFor((c) => c.controls.some((m) => m.type === 'session' && m.expiresAt === r.body.expiresAt), 'the session control message');
    // The candidate sees the new end too.
    expect((await server.api<{ expiresAt: string }>('GET', `/api/sessions/${session.id}`, { token: session.candidateToken })).body.expiresAt).toBe(
      r.body.expiresAt,
    );

    // 15 booked + 10 = 25; the maximum is 40 from creation.
    const capped = await server.api<{ expiresAt: string; addedMinutes: number }>('POST', `/api/sessions/${session.id}/extend`, { body: { minutes: 60 } });
    expect(capped.status).toBe(200);
    expect(capped.body.addedMinutes).toBe(15);
    expect(Date.parse(capped.body.expiresAt)).toBe(Date.parse(before.createdAt) + MAX_MINUTES * 60_000);
    const full = await server.api<ErrorBody>('POST', `/api/sessions/${session.id}/extend`, { body: { minutes: 1 } });
    expect(full.status).toBe(409);
    expect(full.body.error.code).toBe('WRONG_STATE');
    expect((await server.api('POST', `/api/sessions/${session.id}/extend`, { token: session.candidateToken, body: { minutes: 5 } })).status).toBe(403);

    const events = await fetch(`${server.url}/api/sessions/${session.id}/events`, { headers: { cookie } });
    expect(events.status).toBe(200);
    const reader = events.body!.getReader();
    let text = '';
    while (!/event: extended[\s\S]*event: extended/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    await reader.cancel();
    expect(text).toContain(`"expiresAt":"${capped.body.expiresAt}"`);
  });

  it('shows the commits the candidate made in the terminal, and their diff, live and after the end', async () => {
    const c = candidate!;
    await c.waitForText(PROMPT);
    c.type(
      'echo "hello, opslab" > greeting.txt && git add greeting.txt && git commit -qm "Say hello" && ' +
        'echo more >> greeting.txt && git commit -qam "Say more" && echo "committed-$((2+2))"\r',
    );
    await c.waitForText('committed-4');

    const live = await asBrowser<Commits>('GET', `/api/sessions/${session.id}/commits`);
    expect(live.status).toBe(200);
    expect(live.body.source).toBe('live');
    expect(live.body.warning).toBeNull();
    expect(live.body.commits.map((x) => [x.subject, x.author])).toEqual([
      ['Say hello', 'Ada Lovelace'],
      ['Say more', 'Ada Lovelace'],
    ]);
    expect(live.body.commits[0]?.files).toEqual([{ path: 'greeting.txt', additions: 1, deletions: 0 }]);
    expect(live.body.files.map((f) => f.path)).toEqual(['greeting.txt']);
    expect(live.body.diff).toContain('+++ b/greeting.txt');
    expect(live.body.diff).toContain('+hello, opslab\n+more\n');
    expect(live.body.truncated).toBe(false);
    expect((await server.api('GET', `/api/sessions/${session.id}/commits`, { token: session.candidateToken })).status).toBe(403);

    const end = await asBrowser<{ state: string }>('POST', `/api/sessions/${session.id}/end`, { headers: { origin } });
    expect(end.body.state).toBe('ended');
    const archived = await asBrowser<Commits>('GET', `/api/sessions/${session.id}/commits`);
    expect(archived.status).toBe(200);
    expect({ ...archived.body, source: 'live' }).toEqual(live.body);
    expect(archived.body.source).toBe('archive');

    // Notes can still be finished after the round, and appear with the report.
    expect((await asBrowser('PUT', `/api/sessions/${session.id}/notes`, { body: { text: 'Done. Good.' }, headers: { origin } })).status).toBe(200);
  });

  it('signs out', async () => {
    const out = await asBrowser('POST', '/api/auth/logout', { headers: { origin } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^opslab_session=;.*Max-Age=0/);
    expect((await asBrowser('GET', '/api/sessions')).status).toBe(401);
    expect((await asBrowser('GET', '/api/auth/me')).status).toBe(401);
  });
});
