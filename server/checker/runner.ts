/**
 * Runs a lab's checks against one sandbox. Checks run concurrently (a few at a time),
 * each with its own timeout; a check that throws or times out is reported as `error`
 * with its reason — never as a pass, never ending the run. The workspace snapshot is
 * taken once, when the first check asks for it, and removed at the end.
 */
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { SandboxDriver, SandboxRef } from '../sandbox/driver.js';
import type { CheckSpec } from './registry.js';
import { checkTypeOf } from './registry.js';
import type { Report, ReportCheck } from './report.js';
import { takeSnapshot } from './snapshot.js';
import type { CheckContext, CheckResult, Snapshot } from './types.js';

export interface GradeInput {
  sessionId: string;
  labId: string;
  labDir: string;
  checks: readonly CheckSpec[];
  driver: SandboxDriver;
  ref: SandboxRef;
  startRef: string;
  logger: Logger;
  signal?: AbortSignal;
  /** How many checks run at once. */
  concurrency?: number;
  /** Where snapshots are extracted (defaults to the OS temp dir). */
  tmpDir?: string;
}

const DEFAULT_CONCURRENCY = 4;

async function runOne(spec: CheckSpec, ctx: CheckContext, parent?: AbortSignal): Promise<{ result: CheckResult; ms: number }> {
  const started = Date.now();
  const timeoutMs = spec.timeoutSeconds * 1000;
  const abort = new AbortController();
  const onParent = () => abort.abort(parent?.reason);
  parent?.addEventListener('abort', onParent, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      abort.abort(new Error('timeout'));
      resolve({ status: 'error', code: 'TIMEOUT', message: `the check did not finish within ${spec.timeoutSeconds} s` });
    }, timeoutMs);
  });
  try {
    const type = checkTypeOf(spec.type);
    const run = type.run(spec as never, { ...ctx, signal: abort.signal }).catch(
      (e: unknown): CheckResult => ({ status: 'error', code: 'CHECK_CRASHED', message: describeError(e) }),
    );
    const result = await Promise.race([run, timedOut]);
    return { result, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParent);
    abort.abort(new Error('done'));
  }
}

function toReportCheck(spec: CheckSpec, result: CheckResult, ms: number): ReportCheck {
  const common = { id: spec.id, title: spec.title, points: spec.points, hidden: spec.hidden, durationMs: ms };
  switch (result.status) {
    case 'passed':
      return { ...common, status: 'passed', earned: spec.points, message: '', ...(result.evidence ? { evidence: result.evidence } : {}) };
    case 'failed':
      return {
        ...common,
        status: 'failed',
        earned: 0,
        message: result.message,
        ...(spec.hint ? { hint: spec.hint } : {}),
        ...(result.evidence ? { evidence: result.evidence } : {}),
      };
    case 'error':
      return {
        ...common,
        status: 'error',
        earned: 0,
        code: result.code,
        message: `the checker could not decide this check: ${result.message}`,
        ...(spec.hint ? { hint: spec.hint } : {}),
      };
  }
}

export async function gradeSandbox(input: GradeInput): Promise<Report> {
  const started = Date.now();
  const log = input.logger.child({ component: 'checker', sessionId: input.sessionId });
  let snapshot: Promise<Snapshot & { dispose(): Promise<void> }> | undefined;
  const ctx: CheckContext = {
    snapshot: () => {
      snapshot ??= input.driver.archive(input.ref).then((stream) =>
        takeSnapshot(stream, { dir: input.tmpDir, signal: input.signal }),
      );
      return snapshot;
    },
    execGrader: (cmd, options) => input.driver.execGrader(input.ref, cmd, options),
    labDir: input.labDir,
    startRef: input.startRef,
    signal: input.signal ?? new AbortController().signal,
    logger: log,
  };

  const results: ReportCheck[] = new Array<ReportCheck>(input.checks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < input.checks.length; i = next++) {
      const spec = input.checks[i]!;
      const { result, ms } = await runOne(spec, ctx, input.signal);
      if (result.status === 'error') log.warn({ check: spec.id, code: result.code, message: result.message }, 'check error');
      results[i] = toReportCheck(spec, result, ms);
    }
  };
  try {
    const n = Math.max(1, Math.min(input.concurrency ?? DEFAULT_CONCURRENCY, input.checks.length));
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    const taken = snapshot;
    if (taken) await taken.then((s) => s.dispose(), () => undefined);
  }
  const skipped = snapshot ? await snapshot.then((s) => s.skipped, () => []) : [];
  return {
    sessionId: input.sessionId,
    lab: input.labId,
    score: results.reduce((n, c) => n + c.earned, 0),
    maxScore: results.reduce((n, c) => n + c.points, 0),
    gradedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    skipped,
    checks: results,
  };
}
