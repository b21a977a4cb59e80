/**
 * `opslab lab test`: proves a lab in the Instruqt manner. Each attempt gets a fresh
 * sandbox built exactly as a candidate's would be (starter committed, setup steps run):
 *   - the untouched starter: every check fails, unless it says `atStart: pass|any`;
 *   - the reference solution (solution/ files laid over, then solution/solve.sh): full marks;
 *   - each attempt in cases/: exactly the score its case.yaml declares.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { gradeSandbox } from '../checker/runner.js';
import type { Report } from '../checker/report.js';
import type { SandboxDriver, SandboxRef } from '../sandbox/driver.js';
import { runSetupSteps } from '../sessions/setup.js';
import { buildStarterRepo } from '../sessions/starter.js';
import { graderDirOf } from './images.js';
import type { Lab } from './loader.js';

export interface AttemptResult {
  name: string;
  /** What the attempt had to show, in words. */
  expected: string;
  score: number;
  maxScore: number;
  ok: boolean;
  /** Checks that went against the expectation, as `id: status (message)`. */
  mismatches: string[];
  report: Report;
  ref?: SandboxRef;
}

interface Attempt {
  name: string;
  /** Files laid over the starter (a folder), and a script run as the candidate. */
  files?: string;
  script?: string | null;
  judge(report: Report): { ok: boolean; expected: string; mismatches: string[] };
}

/** Names that belong to the lab's tooling and are never copied into the workspace. */
const TOOLING = new Set(['solve.sh', 'case.yaml']);

function attemptsFor(lab: Lab): Attempt[] {
  const atStart: Attempt = {
    name: 'starter',
    judge: (report) => {
      const mismatches = report.checks
        .filter((c) => {
          const want = lab.checks.find((s) => s.id === c.id)?.atStart ?? 'fail';
          if (c.status === 'error') return true;
          return want === 'fail' ? c.status !== 'failed' : want === 'pass' ? c.status !== 'passed' : false;
        })
        .map((c) => `${c.id}: ${c.status}${c.message ? ` (${c.message})` : ''}`);
      return { ok: mismatches.length === 0, expected: 'checks fail', mismatches };
    },
  };
  const exactScore =
    (score: number) =>
    (report: Report): { ok: boolean; expected: string; mismatches: string[] } => {
      const notPassed = report.checks.filter((c) => c.status !== 'passed');
      const errors = report.checks.filter((c) => c.status === 'error');
      return {
        ok: report.score === score && errors.length === 0,
        expected: score === report.maxScore ? 'full marks' : `score ${score}`,
        mismatches: (score === report.maxScore ? notPassed : errors).map(
          (c) => `${c.id}: ${c.status}${c.message ? ` (${c.message})` : ''}`,
        ),
      };
    };
  const maxScore = lab.checks.reduce((n, c) => n + c.points, 0);
  return [
    atStart,
    { name: 'solution', files: lab.solutionDir, script: lab.solveScript, judge: exactScore(maxScore) },
    ...lab.cases.map((c) => ({
      name: `case ${c.name}`,
      files: c.dir,
      script: fs.existsSync(path.join(c.dir, 'solve.sh')) ? path.join(c.dir, 'solve.sh') : null,
      judge: exactScore(c.score),
    })),
  ];
}

/** A copy of `dir` without the tooling files, to lay over the workspace. */
async function overlayOf(dir: string): Promise<string> {
  const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-overlay-'));
  await fs.promises.cp(dir, tmp, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (from) => !(path.dirname(from) === dir && TOOLING.has(path.basename(from))),
  });
  return tmp;
}

export async function testLab(
  lab: Lab,
  options: {
    driver: SandboxDriver;
    image: string;
    logger: Logger;
    keep?: boolean;
    onAttempt?: (r: AttemptResult) => void;
  },
): Promise<AttemptResult[]> {
  const results: AttemptResult[] = [];
  for (const attempt of attemptsFor(lab)) {
    const sessionId = `labtest-${lab.id.slice(0, 30)}-${randomBytes(4).toString('hex')}`;
    const log = options.logger.child({ lab: lab.id, attempt: attempt.name });
    const ref = await options.driver.create({
      sessionId,
      image: options.image,
      network: lab.network,
      resources: { cpus: lab.resources.cpus ?? 1, memoryMb: lab.resources.memoryMb ?? 1024, pids: lab.resources.pids ?? 512 },
      capAdd: lab.capabilities,
      env: lab.env,
      size: { cols: 120, rows: 32 },
      ...(graderDirOf(lab) ? { graderDir: graderDirOf(lab) } : {}),
    });
    try {
      const repo = await buildStarterRepo({ starterDir: lab.starterDir, candidateName: 'Lab Test' });
      try {
        await options.driver.copyIn(ref, repo.dir);
      } finally {
        await repo.dispose();
      }
      await runSetupSteps(options.driver, ref, lab.setup, { logger: log });
      if (attempt.files) {
        const overlay = await overlayOf(attempt.files);
        try {
          await options.driver.copyIn(ref, overlay);
        } finally {
          await fs.promises.rm(overlay, { recursive: true, force: true });
        }
      }
      if (attempt.script) {
        const r = await options.driver.exec(ref, ['bash', '-s'], {
          stdin: await fs.promises.readFile(attempt.script),
          timeoutMs: 600_000,
        });
        if (r.exitCode !== 0) {
          throw new Error(`${path.relative(lab.dir, attempt.script)} exited with ${r.exitCode}:\n${(r.stdout + r.stderr).slice(-2000)}`);
        }
      }
      const report = await gradeSandbox({
        sessionId,
        labId: lab.id,
        labDir: lab.dir,
        checks: lab.checks,
        driver: options.driver,
        ref,
        startRef: repo.commit,
        logger: log,
      });
      const verdict = attempt.judge(report);
      const result: AttemptResult = {
        name: attempt.name,
        expected: verdict.expected,
        score: report.score,
        maxScore: report.maxScore,
        ok: verdict.ok,
        mismatches: verdict.mismatches,
        report,
        ...(options.keep ? { ref } : {}),
      };
      results.push(result);
      options.onAttempt?.(result);
    } finally {
      if (!options.keep) await options.driver.destroy(ref);
    }
  }
  return results;
}
