/**
 * Bad input gets a clear error with a stable code, and nothing else is affected: a
 * broken lab beside a good one, an unknown lab, limits on creating sessions, the local
 * driver's refusal. (Hostile requests: test/adversarial/api.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { createSession, waitForState, type CreatedSession } from '../helpers/session-flow.js';

type ErrorBody = { error: { code: string; message: string } };

const BROKEN_LAB = `id: broken
title: A lab with a mistake
summary: Points are words here.
difficulty: easy
durationMinutes: 10
checks:
  - id: one
    title: First
    points: 1
    type: file
    path: a.txt
  - id: two
    title: Second
    points: two
    type: file
    path: b.txt
`;

describe('errors at the API, with a live session beside them', () => {
  let server: ServerProcess;
  let labsDir: string;
  let session: CreatedSession;

  beforeAll(async () => {
    labsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-labs-'));
    await fs.promises.cp(path.join(REPO_ROOT, 'labs/hello'), path.join(labsDir, 'hello'), { recursive: true });
    await fs.promises.mkdir(path.join(labsDir, 'broken'));
    await fs.promises.writeFile(path.join(labsDir, 'broken/lab.yaml'), BROKEN_LAB);
    await fs.promises.writeFile(path.join(labsDir, 'broken/brief.md'), '# Broken\n');
    await fs.promises.mkdir(path.join(labsDir, 'broken/solution'));
    server = await ServerProcess.start({ OPSLAB_LABS_DIR: labsDir });
    session = await createSession(server);
    await waitForState(server, session.id, 'ready');
  });

  afterAll(async () => {
    if (session) await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
    await server.stop();
    await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  it('loads the good lab and reports the broken one by file, line and field', async () => {
    const r = await server.api<{ labs: { id: string }[]; invalid: { id: string; problems: string[] }[] }>('GET', '/api/labs');
    expect(r.status).toBe(200);
    expect(r.body.labs.map((l) => l.id)).toEqual(['hello']);
    const broken = r.body.invalid.find((i) => i.id === 'broken');
    expect(broken?.problems).toEqual([expect.stringMatching(/^[^ ]*broken\/lab\.yaml:14 checks\[1\]\.points: expected a positive integer, got "two"$/)]);
    const create = await server.api<ErrorBody>('POST', '/api/sessions', { body: { lab: 'broken', candidate: { name: 'X' } } });
    expect(create.status).toBe(422);
    expect(create.body.error.code).toBe('LAB_INVALID');
  });

  // Malformed, invalid and oversized bodies: test/adversarial/api.test.ts.
  it('answers a session for an unknown lab with NOT_FOUND', async () => {
    const unknown = await server.api<ErrorBody>('POST', '/api/sessions', { body: { lab: 'nope', candidate: { name: 'X' } } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
  });
});

describe('the local driver', () => {
  it('refuses candidate sessions unless explicitly allowed, since it does not isolate', async () => {
    const server = await ServerProcess.start({ OPSLAB_DRIVER: 'local' });
    try {
      expect((await server.api<{ driver: string }>('GET', '/api/health')).body.driver).toBe('local');
      const r = await server.api<ErrorBody>('POST', '/api/sessions', { body: { lab: 'hello', candidate: { name: 'X' } } });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('DRIVER_UNSAFE');
    } finally {
      await server.stop();
    }
  });
});

describe('limits on creating sessions', () => {
  let server: ServerProcess;
  const created: string[] = [];

  beforeAll(async () => {
    server = await ServerProcess.start({ OPSLAB_SESSION_MAX_LIVE: '1', OPSLAB_SESSION_CREATE_PER_MINUTE: '3' });
  });

  afterAll(async () => {
    for (const id of created) await server.api('POST', `/api/sessions/${id}/end`).catch(() => undefined);
    await server?.stop();
  });

  const create = () => server.api<CreatedSession & ErrorBody>('POST', '/api/sessions', { body: { lab: 'hello', candidate: { name: 'Ada' } } });

  it('answers 503 NO_CAPACITY past the most live sessions, and takes new ones once one ends', async () => {
    const first = await create();
    expect(first.status).toBe(201);
    created.push(first.body.id);
    const second = await create();
    expect(second.status).toBe(503);
    expect(second.body.error.code).toBe('NO_CAPACITY');
    expect(second.body.error.message).toMatch(/1 sessions are running/);
    expect((await server.api('POST', `/api/sessions/${first.body.id}/end`)).status).toBe(200);
    const third = await create();
    expect(third.status, JSON.stringify(third.body)).toBe(201);
    created.push(third.body.id);
  });

  it('answers 429 RATE_LIMITED with Retry-After past the creations a user may make in a minute', async () => {
    // Three requests so far this minute (one refused for capacity also counts).
    const fourth = await create();
    expect(fourth.status).toBe(429);
    expect(fourth.body.error.code).toBe('RATE_LIMITED');
    expect(fourth.body.error.message).toMatch(/at most 3 new sessions a minute/);
    const retry = Number(fourth.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    // The limit is per user and only on creating: reading still works.
    expect((await server.api('GET', '/api/sessions')).status).toBe(200);
  });
});
