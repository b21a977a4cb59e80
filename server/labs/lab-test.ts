/**
 * `opslab lab test`: proves a lab in the Instruqt manner. Each attempt gets a fresh
 * sandbox built exactly as a candidate's would be (starter committed, setup steps run):
 *   - the untouched starter: every check fails, unless it says `atStart: pass|any`;
 *   - the reference solution (solution/ files laid over, then solution/solve.sh): full marks;
 *   - each attempt in cases/: exactly the score its case.yaml declares (laid over the
 *     starter, or over the reference solution when the case says `from: solution`).
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
import { buildStarterRepo, startAfterSetup } from '../sessions/starter.js';
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

interface Layer {
  files: string;
  script: string | null;
}

interface Attempt {
  name: string;
  /** Applied in order over the starter: files laid over (a folder), then a script run as the candidate. */
  layers: Layer[];
  judge(report: Report): { ok: boolean; expected: string; mismatches: string[] };
}

/** Names that belong to the lab's tooling and are never copied into the workspace. */
const TOOLING = new Set(['solve.sh', 'case.yaml']);

function attemptsFor(lab: Lab): Attempt[] {
  const atStart: Attempt = {
    name: 'starter',
    layers: [],
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
  const solution: Layer = { files: lab.solutionDir, script: lab.solveScript };
  return [
    atStart,
    { name: 'solution', layers: [solution], judge: exactScore(maxScore) },
    ...lab.cases.map((c) => {
      const own: Layer = { files: c.dir, script: fs.existsSync(path.join(c.dir, 'solve.sh')) ? path.join(c.dir, 'solve.sh') : null };
      return { name: `case ${c.name}`, layers: c.from === 'solution' ? [solution, own] : [own], judge: exactScore(c.score) };
    }),
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

/** Lays a folder over the workspace, then runs its script as the candidate would. */
async function applyLayer(driver: SandboxDriver, ref: SandboxRef, layer: Layer, labDir: string): Promise<void> {
  const overlay = await overlayOf(layer.files);
  try {
    await driver.copyIn(ref, overlay);
  } finally {
    await fs.promises.rm(overlay, { recursive: true, force: true });
  }
  if (!layer.script) return;
  const r = await driver.exec(ref, ['bash', '-s'], { stdin: await fs.promises.readFile(layer.script), timeoutMs: 600_000 });
  if (r.exitCode !== 0) {
    throw new Error(`${path.relative(labDir, layer.script)} exited with ${r.exitCode}:\n${(r.stdout + r.stderr).slice(-2000)}`);
  }
}

export async function testLab(
  lab: Lab,
  options: {
    driver: SandboxDriver;
    image: string;
    logger: Logger;
    keep?: boolean;
    onAttempt?: (r: AttemptResult) => void;
    /** The workspace size when the lab sets none (the server's sandbox.diskMb). */
    defaultDiskMb?: number;
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
      resources: {
        cpus: lab.resources.cpus ?? 1,
        memoryMb: lab.resources.memoryMb ?? 1024,
        pids: lab.resources.pids ?? 512,
        diskMb: lab.resources.diskMb ?? options.defaultDiskMb ?? 2048,
        ...(lab.resources.tmpfs ? { tmpfs: lab.resources.tmpfs } : {}),
      },
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
      const start = await startAfterSetup(options.driver, ref, repo.commit);
      for (const layer of attempt.layers) await applyLayer(options.driver, ref, layer, lab.dir);
      const report = await gradeSandbox({
        sessionId,
        labId: lab.id,
        labDir: lab.dir,
        checks: lab.checks,
        driver: options.driver,
        ref,
        startRef: start,
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
