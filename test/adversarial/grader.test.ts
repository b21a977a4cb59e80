/**
 * A candidate who attacks the checker from their shell, one trick at a time, on a real
 * server: fake tools first on the PATH, links out of the workspace, a hostile
 * .git/config, a YAML bomb, a 1 GB file. The grade never moves for a trick, nothing of
 * the candidate's runs (a marker file would appear), and honest work still counts, so
 * the checks really ran.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import tar from 'tar-stream';
import { takeSnapshot } from '../../server/checker/snapshot.js';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, oneLabDir, openTerminal, PROMPT, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import type { TerminalClient } from '../helpers/terminal-client.js';
import { attack } from './row.js';

const LAB = `id: tamper
title: Tamper target
summary: Checks that a candidate might try to fool.
difficulty: easy
durationMinutes: 15
image: python-ml
checks:
  - { id: shadow, title: leak.txt holds a password file, points: 1, type: file, path: leak.txt, matches: "root:" }
  - { id: escape, title: esc/passwd holds a password file, points: 1, type: file, path: esc/passwd, matches: "root:" }
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
  - { id: manifests, title: the manifests are valid Kubernetes, points: 1, type: manifest, files: ["k8s/*.yaml"], schema: true }
  - id: committed
    title: work is committed
    points: 1
    type: git
    expect: { commitsSinceStart: { gte: 1 } }
`;

interface ReportBody {
  score: number;
  checks: { id: string; status: string; message: string }[];
}

describe('a candidate attacking the checker', () => {
  let server: ServerProcess;
  let labsDir: string;
  let session: CreatedSession;
  let term: TerminalClient;
  let baseline: Record<string, string>;
  const marker = `/tmp/opslab-pwned-${process.pid}-${Date.now()}`;
  let step = 0;

  beforeAll(async () => {
    labsDir = await oneLabDir('tamper', { 'lab.yaml': LAB, 'brief.md': '# Tamper\n', 'solution/answer.txt': '42\n' });
    server = await ServerProcess.start({ OPSLAB_LABS_DIR: labsDir });
    session = await createSession(server, 'tamper');
    await waitForState(server, session.id, 'ready', 120_000);
    term = await openTerminal(server, session.id, session.candidateToken);
    await term.waitForText(PROMPT);
    baseline = await grade();
  }, 180_000);

  afterAll(async () => {
    await term?.close();
    if (session) await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
    await server?.stop();
    if (labsDir) await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  async function gradeReport(): Promise<ReportBody> {
    const r = await server.api<ReportBody>('POST', `/api/sessions/${session.id}/grade`, { token: session.candidateToken });
    expect(r.status).toBe(200);
    return r.body;
  }
  async function grade(): Promise<Record<string, string>> {
    return Object.fromEntries((await gradeReport()).checks.map((c) => [c.id, c.status]));
  }

  /** Types the commands into the candidate's shell and waits until they have run. */
  async function typed(commands: string[]): Promise<void> {
    step++;
    term.type(`${commands.join(' && ')} && echo "step-$((${step}*1000+1))"\r`);
    await term.waitForText(`step-${step * 1000 + 1}`, 30_000);
  }

  attack('grader', 'fake python3 and curl first on the candidate PATH (in ~/bin and in the workspace)', 'the grade does not move', async () => {
    await typed([
      'mkdir -p ~/bin /workspace/bin',
      `printf '#!/bin/sh\\necho 200\\nexit 0\\n' > ~/bin/curl`,
      `printf '#!/bin/sh\\nexit 0\\n' > ~/bin/python3`,
      'cp ~/bin/curl ~/bin/python3 /workspace/bin/ && chmod +x ~/bin/* /workspace/bin/*',
      'export PATH=~/bin:/workspace/bin:$PATH',
      'test "$(command -v python3)" = "$HOME/bin/python3"',
    ]);
    const after = await grade();
    expect(after).toEqual(baseline);
    return `answer ${after.answer}, service ${after.service}, as before`;
  });

  attack('grader', 'a link to /etc/shadow named like the graded file', 'the check fails; no content read', async () => {
    await typed(['ln -s /etc/shadow leak.txt']);
    const report = await gradeReport();
    const shadow = report.checks.find((c) => c.id === 'shadow');
    expect(shadow?.status).toBe('failed');
    expect(shadow?.message).not.toMatch(/root:/);
    return `shadow: ${shadow?.status} (${shadow?.message.slice(0, 80)})`;
  });

  attack('grader', 'a relative symlink out of the workspace (esc -> ../../etc)', 'the check fails', async () => {
    await typed(['ln -s ../../etc esc', 'test -r esc/passwd']);
    const after = await grade();
    expect(after.escape).toBe('failed');
    return `escape: ${after.escape}`;
  });

  attack('grader', 'a hostile .git/config (fsmonitor, hooksPath, diff.external running a script)', 'nothing runs, in the sandbox or on the host', async () => {
    await typed([
      // Committed before the config turns hostile: the candidate's own git would run it too.
      'git add -A && git commit -qm "tampering"',
      'mkdir -p /workspace/hooks',
      `printf '#!/bin/sh\\ntouch ${marker}\\n' > /workspace/pwn.sh && chmod +x /workspace/pwn.sh && cp /workspace/pwn.sh /workspace/hooks/post-checkout`,
      `git config core.fsmonitor "touch ${marker}"`,
      'git config core.hooksPath /workspace/hooks',
      'git config diff.external /workspace/pwn.sh',
    ]);
    const after = await grade();
    expect(after.committed).toBe('passed'); // git really read the repository
    expect(fs.existsSync(marker)).toBe(false); // not on the host, where git read the snapshot
    await typed([`test ! -e ${marker}`]); // nor in the sandbox
    return `git check ${after.committed}; no marker on the host or in the sandbox`;
  });

  attack('grader', 'a YAML bomb (billion laughs) in a manifest', 'a failed check naming the file; grading stays quick', async () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      laughs.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    await typed(['mkdir -p k8s', `printf '%s\\n' ${laughs.map((l) => `'${l}'`).join(' ')} > k8s/bomb.yaml`]);
    const t0 = performance.now();
    const report = await gradeReport();
    const ms = performance.now() - t0;
    const manifests = report.checks.find((c) => c.id === 'manifests');
    expect(manifests?.status).toBe('failed');
    expect(manifests?.message).toMatch(/bomb\.yaml/);
    expect(manifests?.message).toMatch(/alias/i);
    return `${manifests?.status}: ${manifests?.message.slice(0, 100)} (grade took ${(ms / 1000).toFixed(1)} s)`;
  });

  // The engine builds the workspace archive itself, so a candidate cannot hand the checker
  // a crafted tar; this row feeds one to the same extraction anyway, in case that changes.
  attack('grader', 'tar traversal: ../ names, absolute names, a link then a file through it', 'refused; nothing written outside the snapshot', async () => {
    const tag = randomUUID();
    const pack = tar.pack();
    pack.entry({ name: `../../evil-${tag}` }, 'evil');
    pack.entry({ name: `/tmp/abs-${tag}` }, 'evil');
    pack.entry({ name: 'out', type: 'symlink', linkname: os.tmpdir() });
    pack.entry({ name: `out/through-${tag}` }, 'evil');
    pack.entry({ name: 'fine.txt' }, 'fine');
    pack.finalize();
    const snap = await takeSnapshot(pack as tar.Pack & NodeJS.ReadableStream);
    try {
      expect(await fs.promises.readFile(path.join(snap.dir, 'fine.txt'), 'utf8')).toBe('fine');
      // The link was refused; the file after it may land in a real folder inside the snapshot.
      const out = await fs.promises.lstat(path.join(snap.dir, 'out')).catch(() => null);
      expect(out === null || out.isDirectory()).toBe(true);
      for (const where of [os.tmpdir(), path.dirname(snap.dir), '/tmp']) {
        expect((await fs.promises.readdir(where)).filter((n) => n.includes(tag))).toEqual([]);
      }
      return `${snap.skipped.length} entries refused (${snap.skipped.map((x) => x.split(': ')[1]).join('; ')}); nothing outside the snapshot`;
    } finally {
      await snap.dispose();
    }
  });

  attack('grader', 'a 1 GB file in the workspace', 'grading finishes; honest work still counts', async () => {
    await typed(['head -c 1G /dev/urandom > big.bin', 'echo 42 > answer.txt']);
    const t0 = performance.now();
    const after = await grade();
    const ms = performance.now() - t0;
    expect(after.answer).toBe('passed'); // the honest answer counts: the checks ran
    expect(after.shadow).toBe('failed');
    return `graded in ${(ms / 1000).toFixed(1)} s; answer ${after.answer}`;
  }, 240_000);
});
