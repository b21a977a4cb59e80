/**
 * A lab's setup steps run before the session is ready: a background service is waited
 * for (so the first check finds it up), and a failing step fails the session with that
 * step's output.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { createSession, waitForState } from '../helpers/session-flow.js';

const lab = (id: string, setup: string) => `id: ${id}
title: Setup ${id}
summary: A lab with setup steps.
difficulty: easy
durationMinutes: 15
image: python-ml
setup:
${setup}
checks:
  - id: up
    title: the service answers
    points: 1
    type: http
    url: http://127.0.0.1:8000/
`;

describe('setup steps', () => {
  let server: ServerProcess;
  let labsDir: string;

  beforeAll(async () => {
    labsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-setup-'));
    await fs.promises.symlink(path.join(REPO_ROOT, 'labs/_images'), path.join(labsDir, '_images'));
    const write = async (id: string, setup: string) => {
      await fs.promises.mkdir(path.join(labsDir, id, 'solution'), { recursive: true });
      await fs.promises.writeFile(path.join(labsDir, id, 'lab.yaml'), lab(id, setup));
      await fs.promises.writeFile(path.join(labsDir, id, 'brief.md'), `# ${id}\n`);
    };
    await write(
      'service',
      [
        '  - run: mkdir -p /srv/site && echo "served-by-setup" > /srv/site/index.html',
        '  - name: web server',
        '    run: cd /srv/site && exec python3 -m http.server 8000 --bind 127.0.0.1',
        '    background: true',
        '    ready: { http: "http://127.0.0.1:8000/", timeoutSeconds: 60 }',
      ].join('\n'),
    );
    await write('broken', ['  - name: data download', `    run: 'echo "mirror unreachable: no route" >&2; exit 3'`].join('\n'));
    await write('dies', ['  - name: web server', `    run: 'echo "port already in use" >&2; exit 1'`, '    background: true', '    ready: { port: 8000 }'].join('\n'));
    server = await ServerProcess.start({ OPSLAB_LABS_DIR: labsDir });
  });

  afterAll(async () => {
    await server.stop();
    await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  it('starts a background service and waits for it before the session is ready', async () => {
    const s = await createSession(server, 'service');
    await waitForState(server, s.id, 'ready', 120_000);
    const r = await server.api<{ score: number; checks: { status: string; message: string }[] }>('POST', `/api/sessions/${s.id}/grade`);
    expect(r.body.checks[0]?.status, r.body.checks[0]?.message).toBe('passed');
    await server.api('POST', `/api/sessions/${s.id}/end`);
  });

  it("fails the session with the failing step's output", async () => {
    const s = await createSession(server, 'broken');
    await expect(waitForState(server, s.id, 'ready', 120_000)).rejects.toThrow(/failed/);
    const got = await server.api<{ state: string; error: string }>('GET', `/api/sessions/${s.id}`);
    expect(got.body.state).toBe('failed');
    expect(got.body.error).toMatch(/data download exited with 3/);
    expect(got.body.error).toContain('mirror unreachable: no route');
  });

  it('fails the session when a background service exits before it is ready, with its output', async () => {
    const s = await createSession(server, 'dies');
    await expect(waitForState(server, s.id, 'ready', 120_000)).rejects.toThrow(/failed/);
    const got = await server.api<{ error: string }>('GET', `/api/sessions/${s.id}`);
    expect(got.body.error).toMatch(/web server exited before it was ready/);
    expect(got.body.error).toContain('port already in use');
  });
});
