/**
 * "Check my work" end to end: the candidate grades the untouched starter (nothing
 * passes, hints shown), does the work in the terminal, grades again (full marks); staff
 * read the stored reports with their history; ending grades a last time and keeps the
 * workspace for download.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerProcess } from '../helpers/server-process.js';
import { serverWithSession, openTerminal, PROMPT, type CreatedSession } from '../helpers/session-flow.js';

interface ReportBody {
  score: number;
  maxScore: number;
  trigger?: string;
  checks: { id: string; status: string; earned: number; message: string; hint?: string; evidence?: string; hidden: boolean }[];
}

describe('grading a live session', () => {
  let server: ServerProcess;
  let session: CreatedSession;

  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server, session, close } = await serverWithSession());
  });

  afterAll(async () => {
    await close();
  });

  it('fails every check on the untouched starter, with messages and hints', async () => {
    const r = await server.api<ReportBody>('POST', `/api/sessions/${session.id}/grade`, { token: session.candidateToken });
    expect(r.status).toBe(200);
    expect(r.body.score).toBe(0);
    expect(r.body.maxScore).toBe(2);
    for (const c of r.body.checks) {
      expect(c.status).toBe('failed');
      expect(c.message.length).toBeGreaterThan(0);
      expect(c.evidence).toBeUndefined(); // the candidate's view has no evidence
    }
    expect(r.body.checks.find((c) => c.id === 'greeting-file')?.hint).toMatch(/greeting\.txt/);
  });

  it('gives full marks once the candidate does the work in the terminal', async () => {
    const c = await openTerminal(server, session.id, session.candidateToken);
    await c.waitForText(PROMPT);
    c.type('echo "hello, opslab" > greeting.txt && git add greeting.txt && git commit -qm "Say hello" && echo "committed-$((1+1))"\r');
    await c.waitForText('committed-2');
    await c.close();
    const r = await server.api<ReportBody>('POST', `/api/sessions/${session.id}/grade`, { token: session.candidateToken });
    expect(r.body.checks.map((x) => [x.id, x.status])).toEqual([
      ['greeting-file', 'passed'],
      ['committed', 'passed'],
    ]);
    expect(r.body.score).toBe(2);
  });

  it('keeps every grading for staff, and grades once more when the session ends', async () => {
    const all = await server.api<{ reports: ReportBody[] }>('GET', `/api/sessions/${session.id}/report?all=1`);
    expect(all.body.reports.map((r) => [r.score, r.trigger])).toEqual([
      [0, 'candidate'],
      [2, 'candidate'],
    ]);
    const denied = await server.api('GET', `/api/sessions/${session.id}/report`, { token: session.candidateToken });
    expect(denied.status).toBe(403);

    const end = await server.api<{ state: string }>('POST', `/api/sessions/${session.id}/end`, { token: session.candidateToken });
    expect(end.body.state).toBe('ended');
    const latest = await server.api<ReportBody>('GET', `/api/sessions/${session.id}/report`);
    expect(latest.body.trigger).toBe('end');
    expect(latest.body.score).toBe(2);

    // The workspace, as it was at the end, is a download: the candidate's commit included.
    const r = await fetch(`${server.url}/api/sessions/${session.id}/workspace`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/gzip');
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-ws-'));
    try {
      const file = path.join(dir, 'ws.tar.gz');
      await fs.promises.writeFile(file, Buffer.from(await r.arrayBuffer()));
      execFileSync('tar', ['--no-same-owner', '-xzf', file, '-C', dir]);
      expect(fs.readFileSync(path.join(dir, 'greeting.txt'), 'utf8')).toBe('hello, opslab\n');
      const log = execFileSync('git', ['-C', dir, 'log', '--format=%s'], { env: { PATH: process.env.PATH, HOME: dir } }).toString();
      expect(log.trim().split('\n')).toEqual(['Say hello', 'Start of the exercise']);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
});
