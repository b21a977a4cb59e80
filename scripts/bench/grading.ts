/**
 * Grading time per lab. For each lab: a session (through the API, like a candidate's),
 * then the attempt — by default the lab's reference solution, applied as `opslab lab
 * test` does (solution/ laid over /workspace as uid 1000, then solution/solve.sh run as
 * the candidate), or with `--grade-attempt starter` the untouched starter — then
 * POST /api/sessions/:id/grade OPTS.gradeRuns times (each takes its own workspace
 * snapshot).
 *
 * What is reported, from the staff report (server/checker/runner.ts + report.ts):
 *  - wall: the report's durationMs, every check (4 at a time), the lab's commands included;
 *  - built-in: the sum of per-check durationMs over checks that are not `command`
 *    (file, git, manifest, http, mlflow: the checker's own work). A check that waits for
 *    the shared workspace snapshot counts that wait, so with several waiting at once the
 *    snapshot is counted more than once: an upper bound on the checker's own time;
 *  - built-in max: the slowest such check, a lower bound on the wall time grading would
 *    take without the lab's commands;
 *  - command: the sum over `command` checks (the lab's own scripts), for scale.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Report } from '../../server/checker/report.js';
import { loadLab, type Lab } from '../../server/labs/loader.js';
import { runDockerExec } from '../../server/sandbox/docker-exec.js';
import { packDirectory } from '../../server/sandbox/tar-pack.js';
import { REPO_ROOT } from '../../test/helpers/server-process.js';
import type { BenchServer } from './harness.js';
import { log, workspaceOf } from './harness.js';
import { OPTS } from './options.js';
import { summarize, type Summary } from './stats.js';

export const GRADING_DEFINITION =
  "wall = report durationMs (all checks, 4 at a time); built-in = sum of per-check durationMs of non-`command` checks " +
  '(file/git/manifest/http/mlflow; each includes its wait for the shared snapshot); built-in max = slowest such check; ' +
  'command = sum over the lab\'s own `command` checks';

export interface GradeRun {
  roundTripMs: number;
  wallMs: number;
  builtinSumMs: number;
  builtinMaxMs: number;
  commandSumMs: number;
  byType: Record<string, number>;
  score: number;
  maxScore: number;
}

export interface LabGrading {
  lab: string;
  attempt: 'solution' | 'starter';
  checks: Record<string, number>;
  prepareMs: number;
  runs: GradeRun[];
  wall: Summary;
  builtin: Summary;
  builtinMax: Summary;
  command: Summary;
  error?: string;
}

/** Names that belong to the lab's tooling and are never copied into the workspace (as lab-test.ts). */
const TOOLING = new Set(['solve.sh', 'case.yaml']);

async function applySolution(bs: BenchServer, lab: Lab, sessionId: string): Promise<void> {
  const container = bs.bench.docker.getContainer(workspaceOf(sessionId));
  const overlay = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'opslab-bench-overlay-'));
  try {
    await fs.promises.cp(lab.solutionDir, overlay, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (from) => !(path.dirname(from) === lab.solutionDir && TOOLING.has(path.basename(from))),
    });
    await container.putArchive(packDirectory(overlay, { uid: 1000, gid: 1000 }), { path: '/workspace' });
  } finally {
    await fs.promises.rm(overlay, { recursive: true, force: true });
  }
  if (!lab.solveScript) return;
  const r = await runDockerExec(container, ['bash', '-s'], {
    user: '1000',
    cwd: '/workspace',
    stdin: await fs.promises.readFile(lab.solveScript),
    timeoutMs: 600_000,
  });
  if (r.exitCode !== 0) throw new Error(`solve.sh exited with ${r.exitCode}: ${(r.stdout + r.stderr).slice(-500)}`);
}

function summarizeRuns(lab: string, attempt: LabGrading['attempt'], checks: Record<string, number>, prepareMs: number, runs: GradeRun[], error?: string): LabGrading {
  return {
    lab,
    attempt,
    checks,
    prepareMs,
    runs,
    wall: summarize(runs.map((r) => r.wallMs)),
    builtin: summarize(runs.map((r) => r.builtinSumMs)),
    builtinMax: summarize(runs.map((r) => r.builtinMaxMs)),
    command: summarize(runs.map((r) => r.commandSumMs)),
    ...(error ? { error } : {}),
  };
}

async function gradeLab(bs: BenchServer, labId: string): Promise<LabGrading> {
  const attempt = OPTS.gradeAttempt;
  const loaded = loadLab(path.join(REPO_ROOT, 'labs', labId), REPO_ROOT);
  if (!loaded.lab) return summarizeRuns(labId, attempt, {}, Number.NaN, [], `lab does not load: ${loaded.problems.length} problem(s)`);
  const lab = loaded.lab;
  const typeOf = new Map(lab.checks.map((c) => [c.id, c.type]));
  const checks: Record<string, number> = {};
  for (const c of lab.checks) checks[c.type] = (checks[c.type] ?? 0) + 1;
  const runs: GradeRun[] = [];
  let sessionId: string | null = null;
  const t0 = performance.now();
  let prepareMs = Number.NaN;
  try {
    const session = await bs.ready(labId, 600_000);
    sessionId = session.id;
    if (attempt === 'solution') await applySolution(bs, lab, session.id);
    prepareMs = performance.now() - t0;
    for (let i = 0; i < OPTS.gradeRuns; i++) {
      const t = performance.now();
      const r = await bs.server.api<Report>('POST', `/api/sessions/${session.id}/grade`);
      const roundTripMs = performance.now() - t;
      if (r.status !== 200) throw new Error(`grade: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      const byType: Record<string, number> = {};
      let builtinSumMs = 0;
      let builtinMaxMs = 0;
      let commandSumMs = 0;
      for (const c of r.body.checks) {
        const type = typeOf.get(c.id) ?? 'unknown';
        byType[type] = (byType[type] ?? 0) + c.durationMs;
        if (type === 'command') commandSumMs += c.durationMs;
        else {
          builtinSumMs += c.durationMs;
          builtinMaxMs = Math.max(builtinMaxMs, c.durationMs);
        }
      }
      runs.push({ roundTripMs, wallMs: r.body.durationMs, builtinSumMs, builtinMaxMs, commandSumMs, byType, score: r.body.score, maxScore: r.body.maxScore });
      log(`  grading ${labId} ${i + 1}/${OPTS.gradeRuns}: wall ${r.body.durationMs} ms, built-in ${builtinSumMs} ms, command ${commandSumMs} ms, score ${r.body.score}/${r.body.maxScore}`);
    }
    return summarizeRuns(labId, attempt, checks, prepareMs, runs);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log(`  grading ${labId}: ${message}`);
    return summarizeRuns(labId, attempt, checks, prepareMs, runs, message);
  } finally {
    if (sessionId) await bs.end(sessionId).catch((e: unknown) => log(`  ending ${sessionId}: ${String(e)}`));
  }
}

export async function gradingBench(bs: BenchServer): Promise<LabGrading[]> {
  let labs = OPTS.gradeLabs;
  if (!labs) {
    const catalog = await bs.server.api<{ labs: { id: string }[] }>('GET', '/api/labs');
    labs = catalog.body.labs.map((l) => l.id);
  }
  const out: LabGrading[] = [];
  for (const lab of labs) out.push(await gradeLab(bs, lab));
  return out;
}
