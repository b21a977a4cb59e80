/**
 * Shared by the sandbox adapters: the defaults and limits of `SandboxDriver.exec`, and a
 * bounded collector for a command's stdout/stderr. A collector never pushes back on its
 * source: past the limit it keeps accepting bytes and drops them, so a chatty command
 * still runs to its end (or its timeout) instead of blocking on a full pipe.
 */
import { constants as osConstants } from 'node:os';
import { Writable } from 'node:stream';
import { AppError } from '../errors.js';
import type { ExecOptions, ExecResult } from './driver.js';

export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** The exit code reported when a command was killed for running past its timeout (as `timeout(1)` does). */
export const TIMEOUT_EXIT_CODE = 124;

export interface ExecLimits {
  timeoutMs: number;
  maxOutputBytes: number;
}

/** Applies the defaults of `ExecOptions` and rejects nonsense values (`VALIDATION`). */
export function resolveExecLimits(options: Pick<ExecOptions, 'timeoutMs' | 'maxOutputBytes'> = {}): ExecLimits {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new AppError('VALIDATION', `exec timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new AppError('VALIDATION', `exec maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`);
  }
  return { timeoutMs, maxOutputBytes };
}

/** The shell's convention for a process ended by a signal: 128 + the signal number. */
export function signalExitCode(signal: NodeJS.Signals | string): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}

/** Keeps the first `limit` bytes written to it and remembers whether anything was dropped. */
export class OutputCollector {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = false;

  constructor(readonly limit: number) {}

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length === 0) return;
    const room = this.limit - this.kept;
    if (room <= 0) {
      this.dropped = true;
      return;
    }
    const part = buf.length > room ? buf.subarray(0, room) : buf;
    if (part.length < buf.length) this.dropped = true;
    // Copy: a stream may reuse the memory behind a chunk it handed out.
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  /** True when bytes were dropped at the limit. */
  get truncated(): boolean {
    return this.dropped;
  }

  /** Bytes kept so far. */
  get byteLength(): number {
    return this.kept;
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  /** The kept bytes as UTF-8; a character cut in half by the limit is left out rather than mangled. */
  text(): string {
    const buf = this.buffer();
    return (this.dropped ? buf.subarray(0, utf8CompleteLength(buf)) : buf).toString('utf8');
  }

  /** A sink for `stream.pipe()` or docker's `demuxStream`; it never applies backpressure. */
  writable(): Writable {
    return new Writable({
      write: (chunk: Buffer | string, _encoding, callback) => {
        this.push(chunk);
        callback();
      },
    });
  }
}

/** Collects both streams of one command under the same limit each. */
export class ExecOutput {
  readonly stdout: OutputCollector;
  readonly stderr: OutputCollector;

  constructor(maxOutputBytes: number) {
    this.stdout = new OutputCollector(maxOutputBytes);
    this.stderr = new OutputCollector(maxOutputBytes);
  }

  result(exitCode: number, timedOut: boolean): ExecResult {
    return {
      exitCode,
      stdout: this.stdout.text(),
      stderr: this.stderr.text(),
      timedOut,
      truncated: this.stdout.truncated || this.stderr.truncated,
    };
  }
}

/** The length of `buf` without a trailing incomplete UTF-8 sequence. */
function utf8CompleteLength(buf: Buffer): number {
  // Walk back over at most 3 continuation bytes to the lead byte of the last character.
  let i = buf.length - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 3 && ((buf[i] ?? 0) & 0xc0) === 0x80) {
    i -= 1;
    continuation += 1;
  }
  if (i < 0) return buf.length;
  const lead = buf[i] ?? 0;
  const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  return continuation < need ? i : buf.length;
}
