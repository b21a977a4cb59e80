/**
 * The audit log on the real server: each staff action on a session (create, observe,
 * take the keyboard, grade, extend, read the report, download the recording and the
 * workspace, end) and each sign-in leaves one entry naming who did it; candidates'
 * own actions do not. Admins read all of it in pages; other staff read one session's
 * trail; candidates read none.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { createSession, ticketFor, waitForState, type CreatedSession } from '../helpers/session-flow.js';

interface Entry {
  id: number;
  at: string;
  actor: { id: string; name: string; role: string };
  action: string;
  sessionId: string | null;
  client: string | null;
  detail: Record<string, unknown>;
}
type Page = { entries: Entry[]; next: number | null };

describe('the audit log', () => {
  let server: ServerProcess;
  let session: CreatedSession;
  let grace: string;

  beforeAll(async () => {
    server = await ServerProcess.start();
    // A second staff user, made the way an admin would: the CLI on the same data dir.
    const out = execFileSync(path.join(REPO_ROOT, 'bin/opslab'), ['user', 'add', 'grace', '--role', 'interviewer'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', OPSLAB_DATA_DIR: server.dataDir, OPSLAB_LOG_LEVEL: 'warn' },
      encoding: 'utf8',
    });
    grace = /(osl_[A-Za-z0-9_-]+)/.exec(out)?.[1] ?? '';
    expect(grace, out).not.toBe('');
    const created = await server.api<CreatedSession>('POST', '/api/sessions', { token: grace, body: { lab: 'hello', candidate: { name: 'Ada' } } });
    expect(created.status).toBe(201);
    session = created.body;
    await waitForState(server, session.id, 'ready');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('records every staff action on a session, with who did it, and nothing the candidate did', async () => {
    const id = session.id;
    await ticketFor(server, id, server.adminToken); // admin watches
    await ticketFor(server, id, server.adminToken, { write: true }); // admin takes the keyboard
    await ticketFor(server, id, session.candidateToken); // the candidate's own terminal: not audited
    expect((await server.api('POST', `/api/sessions/${id}/grade`, { token: session.candidateToken })).status).toBe(200);
    expect((await server.api('POST', `/api/sessions/${id}/grade`, { token: grace })).status).toBe(200);
    expect((await server.api('POST', `/api/sessions/${id}/extend`, { token: grace, body: { minutes: 5 } })).status).toBe(200);
    expect((await server.api('GET', `/api/sessions/${id}/report`, { token: grace })).status).toBe(200);
    expect((await server.api('POST', `/api/sessions/${id}/end`, { token: grace })).status).toBe(200);
    expect((await server.api('GET', `/api/sessions/${id}/recording`, { token: grace })).status).toBe(200);
    expect((await server.api('GET', `/api/sessions/${id}/workspace`)).status).toBe(200);

    const log = await server.api<Page>('GET', `/api/audit?session=${id}`);
    expect(log.status).toBe(200);
    const trail = log.body.entries.map((e) => `${e.actor.name} ${e.action}`).reverse();
    expect(trail).toEqual([
      'grace session.created',
      'admin session.observed',
      'admin session.keyboard_taken',
      'grace session.graded',
      'grace session.extended',
      'grace session.report_viewed',
      'grace session.ended',
      'grace session.recording_downloaded',
      'admin session.workspace_downloaded',
    ]);
    const created = log.body.entries.at(-1);
    expect(created).toMatchObject({ actor: { name: 'grace', role: 'interviewer' }, sessionId: id, detail: { lab: 'hello', candidate: 'Ada' } });
    expect(created?.client).toMatch(/127\.0\.0\.1/);
    expect(Date.parse(created?.at ?? '')).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(log.body.entries.find((e) => e.action === 'session.extended')?.detail).toEqual({ addedMinutes: 5 });
  });

  it('records browser sign-ins', async () => {
    const login = await server.api('POST', '/api/auth/login', { token: null, body: { token: grace } });
    expect(login.status).toBe(200);
    const log = await server.api<Page>('GET', '/api/audit?action=auth.signed_in');
    expect(log.body.entries.map((e) => e.actor.name)).toEqual(['grace']);
  });

  it('pages from newest to oldest', async () => {
    const first = await server.api<Page>('GET', '/api/audit?limit=4');
    expect(first.body.entries).toHaveLength(4);
    expect(first.body.next).toBe(first.body.entries.at(-1)?.id);
    const all: Entry[] = [...first.body.entries];
    let next = first.body.next;
    while (next !== null) {
      const page = await server.api<Page>('GET', `/api/audit?limit=4&before=${next}`);
      all.push(...page.body.entries);
      next = page.body.next;
    }
    const ids = all.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(10); // nine session actions and one sign-in
  });

  it('lets other staff read one session only, and candidates nothing', async () => {
    const whole = await server.api<{ error: { code: string; message: string } }>('GET', '/api/audit', { token: grace });
    expect(whole.status).toBe(403);
    expect(whole.body.error.message).toMatch(/\?session=/);
    expect((await server.api('GET', `/api/audit?session=${session.id}`, { token: grace })).status).toBe(200);
    const other = await createSession(server);
    expect((await server.api('GET', `/api/audit?session=${session.id}`, { token: other.candidateToken })).status).toBe(403);
    expect((await server.api('GET', '/api/audit', { token: null })).status).toBe(401);
    await server.api('POST', `/api/sessions/${other.id}/end`);
  });

  it('names what is wrong with a query', async () => {
    const bad = await server.api<{ error: { code: string; message: string } }>('GET', '/api/audit?action=session.hacked&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/action/);
    expect(bad.body.error.message).toMatch(/limit/);
    const unknown = await server.api<{ error: { message: string } }>('GET', '/api/audit?sort=asc');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/sort/);
  });
});
