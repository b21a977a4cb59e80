/**
 * The Kubernetes streaming protocol (exec and attach over a WebSocket, subprotocol
 * `v5.channel.k8s.io`): every binary message starts with a channel byte, 0 stdin,
 * 1 stdout, 2 stderr, 3 status (a JSON `Status` when the command ends), 4 resize, and in
 * v5 255 "close a channel" (how a command's stdin gets its end-of-file).
 *
 * Spoken here directly over `ws` rather than through client-node's `Exec`/`Attach`:
 * those write into Node streams with no backpressure (a paused terminal would buffer
 * without bound), throw from the socket's message handler on an unknown channel, and
 * end `process.stdout` itself when a close frame arrives for streams they were not
 * given. kubernetes.ts opens the sockets with client-node's own credentials.
 */
import type { Readable } from 'node:stream';
import type WebSocket from 'ws';
import { AppError } from '../errors.js';
import { OutputCollector, TIMEOUT_EXIT_CODE, resolveExecLimits } from './exec-output.js';

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;
/** Offered in order of preference; v5 is the first that can close stdin alone (Kubernetes 1.30+). */
export const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
/** Stdin is sent in messages of at most this size. */
const MAX_FRAME_BYTES = 64 * 1024;
/** The host-side watchdog fires this long after the in-container `timeout` should have. */
const WATCHDOG_GRACE_MS = 5_000;

/** Opens a streaming WebSocket to an API path (`/api/v1/namespaces/.../exec?...`). */
export type Connect = (path: string) => Promise<WebSocket>;

export interface StreamTarget {
  namespace: string;
  pod: string;
  container: string;
}

export function execPath(t: StreamTarget, command: readonly string[], o: { stdin: boolean; stderr?: boolean; tty?: boolean }): string {
  const q = new URLSearchParams({ container: t.container, stdout: 'true', stderr: String(o.stderr ?? true), stdin: String(o.stdin), tty: String(o.tty ?? false) });
  for (const arg of command) q.append('command', arg);
  return `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/exec?${q.toString()}`;
}

/** An attachment to the container's TTY that only sends keystrokes (output is read from the log). */
export function attachInputPath(t: StreamTarget): string {
  const q = new URLSearchParams({ container: t.container, stdin: 'true', stdout: 'false', stderr: 'false', tty: 'true' });
  return `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/attach?${q.toString()}`;
}

/** A frame for `channel` carrying `data`. */
export function frame(channel: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = channel;
  payload.copy(out, 1);
  return out;
}

export interface ExitStatus {
  /** The command's exit code; undefined when the command did not run (the message says why). */
  exitCode?: number;
  message?: string;
}

/** Reads the status channel's JSON `Status`: Success, or Failure with an ExitCode cause or a reason. */
export function parseExitStatus(text: string): ExitStatus {
  let status: { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } };
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    return { message: `unreadable exec status: ${text.slice(0, 200)}` };
  }
  if (status.status === 'Success') return { exitCode: 0 };
  const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  if (status.reason === 'NonZeroExitCode' && code !== undefined && /^\d+$/.test(code)) return { exitCode: Number(code) };
  return { message: status.message ?? status.reason ?? 'the command failed to run' };
}

/**
 * One streaming connection, demultiplexed. Each handler sees only payload bytes; empty
 * frames (the server opens each channel with one) are dropped. Whatever arrives before a
 * handler is set (the first frames can come in the same packet as the upgrade) is kept
 * for it, and a close that came first is reported to a later `onClose`.
 */
export class ChannelSocket {
  private handlers: { [K in 'stdout' | 'stderr']?: (data: Buffer) => void } = {};
  private pending: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  private statusHandler: ((status: ExitStatus) => void) | undefined;
  private pendingStatus: ExitStatus | undefined;
  private closeHandlers: ((info: { code: number; reason: string }) => void)[] = [];
  private closeInfo: { code: number; reason: string } | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const buf = isBinary ? data : Buffer.from(data);
      if (buf.length < 2) return;
      const payload = buf.subarray(1);
      switch (buf[0]) {
        case CHANNEL.stdout:
          this.deliver('stdout', payload);
          break;
        case CHANNEL.stderr:
          this.deliver('stderr', payload);
          break;
        case CHANNEL.status: {
          const status = parseExitStatus(payload.toString('utf8'));
          if (this.statusHandler) this.statusHandler(status);
          else this.pendingStatus = status;
          break;
        }
        default:
          break; // resize or close echoes, or a channel this client did not ask for
      }
    });
    const closed = (code: number, reason: string) => {
      if (this.closeInfo) return;
      this.closeInfo = { code, reason };
      for (const h of this.closeHandlers) h(this.closeInfo);
    };
    ws.on('close', (code: number, reason: Buffer) => closed(code, reason.toString('utf8')));
    ws.on('error', (e: Error) => {
      closed(1006, e.message);
      ws.terminate();
    });
  }

  private deliver(channel: 'stdout' | 'stderr', payload: Buffer): void {
    const handler = this.handlers[channel];
    if (handler) handler(payload);
    else this.pending[channel].push(Buffer.from(payload));
  }

  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Whether stdin can be closed on its own (v5); otherwise only the whole connection can. */
  get canCloseStdin(): boolean {
    return this.ws.protocol === 'v5.channel.k8s.io';
  }

  onStdout(h: (data: Buffer) => void): void {
    this.setHandler('stdout', h);
  }

  onStderr(h: (data: Buffer) => void): void {
    this.setHandler('stderr', h);
  }

  private setHandler(channel: 'stdout' | 'stderr', h: (data: Buffer) => void): void {
    this.handlers[channel] = h;
    const pending = this.pending[channel];
    this.pending[channel] = [];
    for (const data of pending) h(data);
  }

  onStatus(h: (status: ExitStatus) => void): void {
    this.statusHandler = h;
    const pending = this.pendingStatus;
    this.pendingStatus = undefined;
    if (pending) h(pending);
  }

  onClose(h: (info: { code: number; reason: string }) => void): void {
    this.closeHandlers.push(h);
    const info = this.closeInfo;
    if (info) queueMicrotask(() => h(info));
  }

  /** Sends stdin bytes; resolves once they are handed to the socket (one message in flight: backpressure). */
  async writeStdin(data: Buffer | string): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let i = 0; i < buf.length; i += MAX_FRAME_BYTES) {
      await this.send(frame(CHANNEL.stdin, buf.subarray(i, i + MAX_FRAME_BYTES)));
    }
  }

  /** Sends stdin without waiting (keystrokes: small and in order). */
  writeStdinNow(data: Buffer | string): void {
    if (!this.closed) this.ws.send(frame(CHANNEL.stdin, data));
  }

  /** End of file on the command's stdin. */
  async closeStdin(): Promise<void> {
    if (!this.canCloseStdin) {
      throw new AppError('SANDBOX_FAILED', `the API server speaks ${this.ws.protocol || 'no known streaming protocol'}, which cannot end a command's input: Kubernetes 1.30 or later is needed`);
    }
    await this.send(Buffer.from([CHANNEL.close, CHANNEL.stdin]));
  }

  /** Streams a readable into stdin, then closes stdin. */
  async pipeStdin(source: Readable): Promise<void> {
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      if (this.closed) throw new AppError('SANDBOX_FAILED', 'the exec stream closed while its input was being sent');
      await this.writeStdin(chunk);
    }
    await this.closeStdin();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  close(): void {
    if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
    else this.ws.close(1000);
  }

  private send(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new AppError('SANDBOX_FAILED', 'the exec stream is closed'));
        return;
      }
      this.ws.send(data, (e) => (e ? reject(e) : resolve()));
    });
  }
}

export interface ChannelExecOptions {
  stdin?: string | Buffer | Readable;
  timeoutMs?: number;
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface RawChannelResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
  truncated: boolean;
}

/** The command wrapped so that it runs in `cwd` with `env` and is killed (with its process group) at the timeout. */
export function wrapCommand(cmd: readonly string[], o: { cwd: string; env?: Record<string, string>; timeoutMs: number }): string[] {
  const env = Object.entries(o.env ?? {});
  for (const [name] of env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new AppError('VALIDATION', `exec env: ${JSON.stringify(name)} is not a variable name`);
  }
  // Kubernetes' exec has no working directory or environment of its own: env(1) sets both.
  const seconds = Math.max(1, Math.ceil(o.timeoutMs / 1000));
  return ['env', '-C', o.cwd, ...env.map(([k, v]) => `${k}=${v}`), 'timeout', '-k', '2', `${seconds}s`, ...cmd];
}

/**
 * Runs one exec to its end and collects its output with limits. `timeout` inside the
 * container kills the command (see wrapCommand); a host-side watchdog closes the
 * connection if the cluster itself stops answering.
 */
export async function runChannelExec(socket: ChannelSocket, o: ChannelExecOptions): Promise<RawChannelResult> {
  const { timeoutMs, maxOutputBytes } = resolveExecLimits(o);
  const stdout = new OutputCollector(maxOutputBytes);
  const stderr = new OutputCollector(maxOutputBytes);
  socket.onStdout((d) => stdout.push(d));
  socket.onStderr((d) => stderr.push(d));
  let status: ExitStatus | undefined;
  socket.onStatus((s) => (status = s));

  let watchdogFired = false;
  const ended = new Promise<void>((resolve, reject) => {
    const watchdog = setTimeout(() => {
      watchdogFired = true;
      socket.close();
      resolve();
    }, timeoutMs + WATCHDOG_GRACE_MS);
    const onAbort = () => {
      clearTimeout(watchdog);
      socket.close();
      reject(o.signal?.reason ?? new Error('aborted'));
    };
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    socket.onClose(() => {
      clearTimeout(watchdog);
      o.signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });

  if (o.stdin !== undefined) {
    const input = o.stdin;
    const sending = typeof input === 'string' || Buffer.isBuffer(input) ? socket.writeStdin(input).then(() => socket.closeStdin()) : socket.pipeStdin(input);
    // A command may end before reading all its input; that is its business, not an error.
    sending.catch((e: unknown) => {
      if (!socket.closed) {
        stderr.push(`opslab: could not send the command's input: ${e instanceof Error ? e.message : String(e)}\n`);
        socket.close();
      }
    });
  }
  await ended;

  let exitCode = -1;
  if (!watchdogFired) {
    const s = status as ExitStatus | undefined;
    if (s === undefined) throw new AppError('SANDBOX_FAILED', 'the exec stream ended without an exit status (the sandbox Pod may be gone)');
    if (s.exitCode === undefined) throw new AppError('SANDBOX_FAILED', `the command could not run in the sandbox: ${s.message ?? 'unknown reason'}`);
    exitCode = s.exitCode;
  }
  return {
    exitCode,
    stdout: stdout.buffer(),
    stderr: stderr.buffer(),
    timedOut: watchdogFired || exitCode === TIMEOUT_EXIT_CODE || exitCode === 128 + 9,
    truncated: stdout.truncated || stderr.truncated,
  };
}
