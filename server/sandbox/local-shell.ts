/**
 * The persistent shell of a local sandbox: a bash on a node-pty that is started again
 * when it exits (like the Docker driver's respawn loop), its bounded output history, and
 * the terminal attachments that come and go without ending it.
 *
 * The output of the pty is always read (into the history) while nobody is attached, so
 * the shell never blocks on a detached terminal; only an attachment's `pause()` stops it.
 */
import * as pty from 'node-pty';
import type { Logger } from 'pino';
import type { TermSize, TerminalCloseInfo, TerminalStream, TtyAttachment } from './driver.js';
import { OutputHistory } from './local-history.js';
import { AppError, describeError } from '../errors.js';

export interface PersistentShellOptions {
  /** Program and arguments of the shell. */
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  size: TermSize;
  historyBytes: number;
  logger?: Logger;
}

const RESPAWN_NOTICE = '\r\n[opslab] shell exited; starting a new one\r\n';
/** A shell that dies sooner than this after starting is restarted only after the same delay, so a broken shell cannot spin. */
const RESPAWN_BACKOFF_MS = 1000;
/** How long `dispose` waits for the shell to go after SIGHUP before killing its process group. */
const HANGUP_GRACE_MS = 300;

export class PersistentShell {
  private pty: pty.IPty | undefined;
  private startedAt = 0;
  private readonly history: OutputHistory;
  private readonly attachments = new Set<LocalAttachment>();
  private readonly pausedBy = new Set<LocalAttachment>();
  private size: TermSize;
  private ended = false;
  private respawnTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: PersistentShellOptions) {
    this.size = { ...options.size };
    this.history = new OutputHistory(options.historyBytes);
  }

  /** Starts the first shell; throws when it cannot be spawned. */
  start(): void {
    this.spawn();
  }

  /** Whether the shell service is up (it is, between a shell's exit and its replacement). */
  get running(): boolean {
    return !this.ended;
  }

  /** Process ids of the current shell (its process group has the same id), for cleanup. */
  get pid(): number | undefined {
    return this.pty?.pid;
  }

  attach(size: TermSize): TtyAttachment {
    if (this.ended) throw new Error('shell has ended');
    this.resize(size);
    // Synchronous from snapshot to registration: no pty data can slip in between.
    const history = this.history.snapshot();
    const attachment = new LocalAttachment(this, this.options.logger);
    this.attachments.add(attachment);
    return { stream: attachment, history };
  }

  write(data: Buffer | string): void {
    if (!this.ended) this.pty?.write(data);
  }

  resize(size: TermSize): void {
    this.size = { cols: size.cols, rows: size.rows };
    try {
      this.pty?.resize(size.cols, size.rows);
    } catch (e) {
      // The shell is just exiting; its replacement starts with `this.size`.
      this.options.logger?.debug({ err: e }, 'resize of an exiting shell');
    }
  }

  setPaused(attachment: LocalAttachment, paused: boolean): void {
    if (paused && this.attachments.has(attachment)) this.pausedBy.add(attachment);
    else this.pausedBy.delete(attachment);
    this.applyPause();
  }

  detach(attachment: LocalAttachment): void {
    this.attachments.delete(attachment);
    this.pausedBy.delete(attachment);
    this.applyPause();
  }

  /** Ends the shell for good: attachments are told why, the shell and its process group are killed. */
  async dispose(reason: string): Promise<void> {
    if (this.ended) return this.exited;
    this.ended = true;
    clearTimeout(this.respawnTimer);
    for (const attachment of [...this.attachments]) attachment.end({ reason });
    this.attachments.clear();
    this.pausedBy.clear();
    const current = this.pty;
    if (current === undefined) return this.exited;
    // Reading on lets the shell finish writing and notice the hangup.
    current.resume();
    // An interactive bash passes SIGHUP on to its jobs before it exits.
    current.kill('SIGHUP');
    const exited = this.exited;
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), HANGUP_GRACE_MS).unref());
    await Promise.race([exited, timer]);
    killGroup(current.pid, 'SIGKILL');
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, HANGUP_GRACE_MS).unref())]);
  }

  private spawn(): void {
    const { command, args, cwd, env, logger } = this.options;
    const shell = pty.spawn(command, args, {
      name: env['TERM'] ?? 'xterm-256color',
      cols: this.size.cols,
      rows: this.size.rows,
      cwd,
      env,
      // Raw bytes: history offsets count bytes, and a chunk may end inside a character.
      encoding: null,
    });
    this.pty = shell;
    this.startedAt = Date.now();
    if (this.pausedBy.size > 0) shell.pause();
    let markExited!: () => void;
    this.exited = new Promise<void>((resolve) => (markExited = resolve));
    // With `encoding: null` node-pty hands out Buffers, whatever its typings say.
    shell.onData((data: string | Buffer) => this.output(typeof data === 'string' ? Buffer.from(data) : data));
    shell.onExit(({ exitCode, signal }) => {
      markExited();
      if (this.pty === shell) this.pty = undefined;
      logger?.debug({ exitCode, signal, pid: shell.pid }, 'local sandbox shell exited');
      if (!this.ended) this.scheduleRespawn();
    });
  }

  private scheduleRespawn(): void {
    this.output(Buffer.from(RESPAWN_NOTICE));
    const lived = Date.now() - this.startedAt;
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      if (this.ended) return;
      try {
        this.spawn();
      } catch (e) {
        this.options.logger?.error({ err: e }, 'local sandbox shell could not be restarted');
        this.ended = true;
        for (const attachment of [...this.attachments]) attachment.end({ reason: `shell could not be restarted: ${describeError(e)}` });
        this.attachments.clear();
      }
    }, lived < RESPAWN_BACKOFF_MS ? RESPAWN_BACKOFF_MS : 0);
  }

  private output(chunk: Buffer): void {
    this.history.append(chunk);
    for (const attachment of [...this.attachments]) attachment.deliver(chunk);
  }

  private applyPause(): void {
    if (this.pty === undefined) return;
    if (this.pausedBy.size > 0) this.pty.pause();
    else this.pty.resume();
  }
}

/**
 * One attachment. Output that arrives before the first `onData` listener is held and
 * handed to it, so a caller may register its listener after awaiting `openTty`.
 */
class LocalAttachment implements TerminalStream {
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly closeListeners: ((info: TerminalCloseInfo) => void)[] = [];
  /** Output held until the first listener's flush has run; `undefined` afterwards. */
  private held: Buffer[] | undefined = [];
  private flushScheduled = false;
  private detached = false;
  private endInfo: TerminalCloseInfo | undefined;

  constructor(
    private readonly shell: PersistentShell,
    private readonly logger: Logger | undefined,
  ) {}

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    if (this.held !== undefined && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        const held = this.held ?? [];
        this.held = undefined;
        for (const chunk of held) this.emit(chunk);
      });
    }
  }

  onClose(listener: (info: TerminalCloseInfo) => void): void {
    this.closeListeners.push(listener);
    const info = this.endInfo;
    if (info !== undefined) queueMicrotask(() => this.safeCall(listener, info));
  }

  write(data: Buffer | string): void {
    if (!this.detached) this.shell.write(data);
  }

  async resize(size: TermSize): Promise<void> {
    assertTermSize(size);
    if (!this.detached) this.shell.resize(size);
  }

  pause(): void {
    if (!this.detached) this.shell.setPaused(this, true);
  }

  resume(): void {
    if (!this.detached) this.shell.setPaused(this, false);
  }

  close(): void {
    if (this.detached) return;
    this.detached = true;
    this.held = undefined;
    this.shell.detach(this);
  }

  /** From the shell: new output. */
  deliver(chunk: Buffer): void {
    if (this.detached) return;
    if (this.held !== undefined) this.held.push(chunk);
    else this.emit(chunk);
  }

  /** From the shell: the attachment ends by itself. */
  end(info: TerminalCloseInfo): void {
    if (this.detached) return;
    this.detached = true;
    this.endInfo = info;
    // Listeners registered from now on are called by `onClose` itself, so each is called once.
    const listeners = [...this.closeListeners];
    queueMicrotask(() => {
      for (const listener of listeners) this.safeCall(listener, info);
    });
  }

  private emit(chunk: Buffer): void {
    for (const listener of this.dataListeners) this.safeCall(listener, chunk);
  }

  private safeCall<T>(listener: (arg: T) => void, arg: T): void {
    try {
      listener(arg);
    } catch (e) {
      this.logger?.error({ err: e }, 'terminal listener threw');
    }
  }
}

const MAX_TERM_DIMENSION = 10_000;

export function assertTermSize(size: TermSize): void {
  const ok = (n: number): boolean => Number.isInteger(n) && n > 0 && n <= MAX_TERM_DIMENSION;
  if (!ok(size.cols) || !ok(size.rows)) {
    throw new AppError('VALIDATION', `terminal size must be positive integers, got ${JSON.stringify(size)}`);
  }
}

/** Signals a whole process group; a group that is already gone is fine. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
