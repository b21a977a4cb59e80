/**
 * A candidate who tries to talk the checker into a pass: fake `python3` and `curl` first
 * on their PATH, a link to /etc/shadow, a hostile .git/config that runs a script from
 * fsmonitor and hooks. The grade does not change, no marker file appears anywhere, and
 * honest work still counts (so the checks really ran).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { createSession, openTerminal, PROMPT, waitForState, type CreatedSession } from '../helpers/session-flow.js';

const LAB = `id: tamper
title: Tamper target
summary: Checks that a candidate might try to fool.
difficulty: easy
durationMinutes: 15
image: python-ml
checks:
  - { id: shadow, title: leak.txt holds a password file, points: 1, type: file, path: leak.txt, matches: "root:" }
  - id: answer
    title: answer.txt holds the answer
    points: 2
    type: command
    run: "python3 -c 'import sys; sys.exit(0 if open(\\"/workspace/answer.txt\\").read().strip() == \\"42\\" else 1)'"
  - id: service
    title: the service is up
    points: 2
    type: http
    url: http://127.0.0.1:8000/health
    wait: { timeoutSeconds: 2 }
  - id: committed
    title: work is committed
    points: 1
    type: git
    expect: { commitsSinceStart: { gte: 1 } }
`;

interface ReportBody {
  score: number;
  checks: { id: string; status: string }[];
}

describe('a candidate trying to fool the checker', () => {
  let server: ServerProcess;
  let labsDir: string;
  let session: CreatedSession;
  const marker = `/tmp/opslab-pwned-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    labsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-tamper-'));
    await fs.promises.symlink(path.join(REPO_ROOT, 'labs/_images'), path.join(labsDir, '_images'));
    await fs.promises.mkdir(path.join(labsDir, 'tamper/solution'), { recursive: true });
    await fs.promises.writeFile(path.join(labsDir, 'tamper/lab.yaml'), LAB);
    await fs.promises.writeFile(path.join(labsDir, 'tamper/brief.md'), '# Tamper\n');
    await fs.promises.writeFile(path.join(labsDir, 'tamper/solution/answer.txt'), '42\n');
    server = await ServerProcess.start({ OPSLAB_LABS_DIR: labsDir });
    session = await createSession(server, 'tamper');
    await waitForState(server, session.id, 'ready', 120_000);
  });

  afterAll(async () => {
    if (session) await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
    await server.stop();
    await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  const grade = async () => {
    const r = await server.api<ReportBody>('POST', `/api/sessions/${session.id}/grade`, { token: session.candidateToken });
    expect(r.status).toBe(200);
    return Object.fromEntries(r.body.checks.map((c) => [c.id, c.status]));
  };

  it('grades the same before and after the tampering, and runs nothing of the candidate', async () => {
    const before = await grade();
    expect(before).toEqual({ shadow: 'failed', answer: 'failed', service: 'failed', committed: 'failed' });

    const c = await openTerminal(server, session.id, session.candidateToken);
    await c.waitForText(PROMPT);
    const lines = [
      'mkdir -p ~/bin /workspace/bin /workspace/hooks',
      `printf '#!/bin/sh\\necho 200\\nexit 0\\n' > ~/bin/curl`,
      `printf '#!/bin/sh\\nexit 0\\n' > ~/bin/python3`,
      'cp ~/bin/curl ~/bin/python3 /workspace/bin/ && chmod +x ~/bin/* /workspace/bin/*',
      'export PATH=~/bin:/workspace/bin:$PATH',
      'ln -s /etc/shadow leak.txt',
      `printf '#!/bin/sh\\ntouch ${marker}\\n' > /workspace/pwn.sh && chmod +x /workspace/pwn.sh && cp /workspace/pwn.sh /workspace/hooks/post-checkout`,
      `git config core.fsmonitor "touch ${marker}"`,
      'git config core.hooksPath /workspace/hooks',
      `git config diff.external /workspace/pwn.sh`,
      'echo "tampered-$((40+2))" "$(command -v curl)" "$(command -v python3)"',
    ];
    c.type(`${lines.join(' && ')}\r`);
    await c.waitForText(/tampered-42 \/home\/candidate\/bin\/curl \/home\/candidate\/bin\/python3/);

    const after = await grade();
    expect(after).toEqual(before);
    expect(fs.existsSync(marker)).toBe(false); // not on the host, where git read the snapshot

    // Honest work still counts: the checks really run.
    c.type('echo 42 > answer.txt && echo "answered-$((6*7))"\r');
    await c.waitForText('answered-42');
    const honest = await grade();
    expect(honest.answer).toBe('passed');
    expect(honest.shadow).toBe('failed');

    // Nothing ran inside the sandbox either (the candidate's own shell can look).
    c.type(`ls ${marker} 2>&1 | grep -c "No such"; echo "looked-$((2+2))"\r`);
    await c.waitForText('looked-4');
    expect(c.plain()).toMatch(/^1\r?$/m);
    await c.close();
  });
});
