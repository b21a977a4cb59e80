/**
 * The checker's shapes. A check type is a pluggable unit (Backstage-action style):
 * `{type, schema, run(spec, ctx)}`, where `schema` (zod) describes the fields a lab
 * author writes for it and `run` inspects the candidate's work through the context.
 *
 * Trust rules every check type keeps (issue 3, "tamper resistance"):
 *   - files are read only from `ctx.snapshot()`: a safe copy on the host, extracted
 *     from a tar stream out of the sandbox with links, devices and traversal rejected;
 *   - commands run only in the grader container (`ctx.execGrader`), never in the
 *     candidate's, so a candidate who replaces python3 or curl changes nothing;
 *   - the candidate's work is data: never executed on the host, never trusted to be small.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ExecOptions, ExecResult } from '../sandbox/driver.js';

export type CheckResult =
  | { status: 'passed'; evidence?: string }
  /** The candidate's work does not meet the check; `message` says what to change. */
  | { status: 'failed'; message: string; evidence?: string }
  /** The checker could not decide (its own fault, a timeout, a broken lab): never counted silently. */
  | { status: 'error'; code: string; message: string };

export interface Snapshot {
  /** Absolute path of a read-only copy of the workspace on the host. */
  dir: string;
  /** Entries that were refused while extracting (links leaving the root, devices, ...), as `path: reason`. */
  skipped: string[];
}

export interface CheckContext {
  /** The workspace, copied safely to the host (taken once per grading and shared by checks). */
  snapshot(): Promise<Snapshot>;
  /** Runs a trusted command in the grader container: workspace read-only at /workspace, same network as the candidate. */
  execGrader(cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  /** The lab's folder on the host (for trusted files under `grader/`). */
  labDir: string;
  /** The commit the candidate started from (the tag `opslab-start`). */
  startRef: string;
  signal: AbortSignal;
  logger: Logger;
}

export interface CheckType<S extends { type: string } = { type: string }> {
  readonly type: S['type'];
  /** The check's own fields, including `type: z.literal(...)`; strict (unknown fields are errors). */
  readonly schema: z.ZodType<S>;
  run(spec: S, ctx: CheckContext): Promise<CheckResult>;
}

/** Helpers for check modules: results with consistent shapes. */
export const pass = (evidence?: string): CheckResult => ({ status: 'passed', ...(evidence ? { evidence } : {}) });
export const fail = (message: string, evidence?: string): CheckResult => ({
  status: 'failed',
  message,
  ...(evidence ? { evidence } : {}),
});
export const checkError = (code: string, message: string): CheckResult => ({ status: 'error', code, message });

/** Evidence is shown to staff; keep it readable and bounded. */
export function clip(text: string, max = 2000): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
}
