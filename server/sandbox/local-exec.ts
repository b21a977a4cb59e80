/**
 * `exec` for the local driver: a child process on the host in its own process group, so
 * a timeout or an abort can kill everything it started.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors.js';
import type { ExecOptions, ExecResult } from './driver.js';
import { WORKSPACE_PATH } from './driver.js';
import { ExecOutput, resolveExecLimits, signalExitCode, TIMEOUT_EXIT_CODE } from './exec-output.js';
import { killGroup } from './local-shell.js';

/** After the command exits, how long to wait for its output pipes to close (a daemon it started may hold them). */
const PIPE_GRACE_MS = 1000;

export interface LocalExecContext {
  workspace: string;
  env: Record<string, string>;
  /** Told the process group of each command while it runs, so `destroy` can kill it. */
  running: Set<number>;
}

/**
 * Maps `cwd` to a host directory. Relative paths resolve inside the workspace and may not
 * leave it; `/workspace` (the path inside a real sandbox) maps to the local workspace so
 * callers can pass the same cwd to every driver; other absolute paths are taken as they are.
 */
export function resolveLocalCwd(workspace: string, cwd: string | undefined): string {
  if (cwd === undefined || cwd === '') return workspace;
  if (cwd === WORKSPACE_PATH || cwd.startsWith(`${WORKSPACE_PATH}/`)) {
    return resolveInside(workspace, cwd.slice(WORKSPACE_PATH.length).replace(/^\/+/, ''), cwd);
  }
  if (path.isAbsolute(cwd)) return path.normalize(cwd);
  return resolveInside(workspace, cwd, cwd);
}

function resolveInside(workspace: string, relative: string, original: string): string {
  const resolved = path.resolve(workspace, relative);
  const rel = path.relative(workspace, resolved);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new AppError('VALIDATION', `exec cwd ${JSON.stringify(original)} leaves the workspace`);
  }
  return resolved;
}

export async function runLocalCommand(cmd: string[], context: LocalExecContext, options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = cmd;
  if (file === undefined || file === '') throw new AppError('VALIDATION', 'exec needs a command');
  const { timeoutMs, maxOutputBytes } = resolveExecLimits(options);
  const cwd = resolveLocalCwd(context.workspace, options.cwd);
  const cwdStat = await stat(cwd).catch(() => undefined);
  if (cwdStat?.isDirectory() !== true) throw new AppError('BAD_REQUEST', `exec cwd ${JSON.stringify(options.cwd ?? cwd)} is not a directory`);
  const signal = options.signal;
  signal?.throwIfAborted();

  return new Promise<ExecResult>((resolve, reject) => {
    const output = new ExecOutput(maxOutputBytes);
    const child = spawn(file, args, {
      cwd,
      env: { ...context.env, ...options.env },
      detached: true, // its own process group
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const pgid = child.pid;
    if (pgid !== undefined) context.running.add(pgid);
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let pipeTimer: NodeJS.Timeout | undefined;

    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      killGroup(pgid, 'SIGKILL');
    }, timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      killGroup(pgid, 'SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (result: ExecResult | undefined, error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(pipeTimer);
      signal?.removeEventListener('abort', onAbort);
      if (pgid !== undefined) context.running.delete(pgid);
      if (aborted) reject(signal?.reason ?? new Error('aborted'));
      else if (result !== undefined) resolve(result);
      else reject(error instanceof Error ? error : new Error(String(error)));
    };

    child.stdout.on('data', (chunk: Buffer) => output.stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.stderr.push(chunk));
    // A command that does not read its stdin closes the pipe under us: not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // a late pipe error of a started process; 'close' follows
      // Not started: report it the way a shell (and `docker exec`) does, as exit 127/126.
      output.stderr.push(`${file}: ${err.message}\n`);
      finish(output.result(err.code === 'ENOENT' ? 127 : 126, false));
    });
    child.on('exit', (code, sig) => {
      exit = { code, signal: sig };
      pipeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, PIPE_GRACE_MS);
    });
    child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
      const status = exit ?? { code, signal: sig };
      const exitCode = timedOut ? TIMEOUT_EXIT_CODE : (status.code ?? (status.signal === null ? 1 : signalExitCode(status.signal)));
      finish(output.result(exitCode, timedOut));
    });
  });
}
