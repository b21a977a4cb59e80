/**
 * The runner over a real (local) sandbox: checks run concurrently, each with its own
 * timeout; a check that hangs or crashes is an `error` with its reason, never a pass, and
 * the others are still graded; the candidate's view hides hidden checks and evidence.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheck, type CheckSpec } from '../../../server/checker/registry.js';
import { candidateView } from '../../../server/checker/report.js';
import { gradeSandbox } from '../../../server/checker/runner.js';
import type { ExecOptions, ExecResult, SandboxRef } from '../../../server/sandbox/driver.js';
import { LocalDriver } from '../../../server/sandbox/local.js';

class CrashingDriver extends LocalDriver {
  override execGrader(ref: SandboxRef, cmd: string[], options?: ExecOptions): Promise<ExecResult> {
    if (cmd.join(' ').includes('crash-me')) return Promise.reject(new Error('the grader container vanished'));
    return super.execGrader(ref, cmd, options);
  }
}

function check(raw: Record<string, unknown>): CheckSpec {
  const r = parseCheck(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.check;
}

describe('gradeSandbox', () => {
  let root: string;
  let driver: CrashingDriver;
  let ref: SandboxRef;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'opslab-runner-'));
    driver = new CrashingDriver({ rootDir: root, ownerId: `runner-${randomUUID()}` });
    ref = await driver.create({
      sessionId: `runner-${randomUUID().slice(0, 8)}`,
      image: 'unused',
      network: 'isolated',
      resources: { cpus: 1, memoryMb: 256, pids: 64, diskMb: 256 },
      capAdd: [],
      env: {},
      size: { cols: 80, rows: 24 },
    });
    await driver.exec(ref, ['sh', '-c', 'echo "hello there" > greeting.txt']);
  });

  afterAll(async () => {
    await driver.reap(new Set());
    await fs.rm(root, { recursive: true, force: true });
  });

  it('scores passes, reports failures with hints, and turns hangs and crashes into errors', async () => {
    const checks = [
      check({ id: 'greets', title: 'Greets', points: 2, type: 'file', path: 'greeting.txt', matches: '(?i)hello' }),
      check({ id: 'polite', title: 'Polite', points: 1, type: 'file', path: 'greeting.txt', matches: 'please', hint: 'Say please.' }),
      check({ id: 'hangs', title: 'Hangs', points: 3, type: 'command', run: 'sleep 30', timeoutSeconds: 1 }),
      check({ id: 'crashes', title: 'Crashes', points: 4, type: 'command', run: 'echo crash-me' }),
      check({ id: 'secret', title: 'Secret', points: 5, type: 'file', path: 'greeting.txt', hidden: true }),
    ];
    const started = Date.now();
    const report = await gradeSandbox({ sessionId: 's', labId: 'l', labDir: root, checks, driver, ref, startRef: 'x', logger });
    expect(Date.now() - started).toBeLessThan(10_000); // the hanging check did not hold the run for 30 s
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(byId.greets).toMatchObject({ status: 'passed', earned: 2 });
    expect(byId.polite).toMatchObject({ status: 'failed', earned: 0, hint: 'Say please.' });
    expect(byId.polite?.message).toMatch(/please/);
    expect(byId.hangs).toMatchObject({ status: 'error', earned: 0 });
    expect(byId.hangs?.message).toMatch(/time|1 s/i);
    expect(byId.crashes).toMatchObject({ status: 'error', earned: 0, code: 'CHECK_CRASHED' });
    expect(byId.crashes?.message).toContain('the grader container vanished');
    expect(byId.secret).toMatchObject({ status: 'passed', earned: 5, hidden: true });
    expect(report.score).toBe(7);
    expect(report.maxScore).toBe(15);

    const seen = candidateView(report);
    expect(seen.checks.map((c) => c.id)).toEqual(['greets', 'polite', 'hangs', 'crashes']);
    expect(seen.score).toBe(2);
    expect(seen.maxScore).toBe(10);
    expect(seen.checks.every((c) => c.evidence === undefined)).toBe(true);
  });
});
