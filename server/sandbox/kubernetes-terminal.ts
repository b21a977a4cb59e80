/**
 * A TerminalStream over two streaming connections, as on Docker: keystrokes go to the
 * workspace container's TTY through the attach API, and output comes from an exec that
 * follows the shell's output log, so every byte the shell printed (also while nobody was
 * attached) arrives exactly once and in order. Resizes are an exec of `stty -F` on the
 * shell's pty (see kubernetes-pod.ts).
 *
 * Pausing stops reading the output socket (TCP pushes back through the API server to
 * the reader in the Pod); chunks already received are held, not delivered, until resume.
 * Chunks that arrive before the first `onData` listener are held for it too.
 */
import type { Logger } from 'pino';
import type { TermSize, TerminalCloseInfo, TerminalStream } from './driver.js';
import type { ChannelSocket } from './kubernetes-channel.js';

interface Options {
  /** The attach connection (stdin of the container's TTY). */
  input: ChannelSocket;
  /** The exec running the log reader. */
  output: ChannelSocket;
  resize: (size: TermSize) => Promise<void>;
  stopReader: () => Promise<void>;
  logger: Logger;
}

export class KubernetesTerminalStream implements TerminalStream {
  private dataListeners: ((chunk: Buffer) => void)[] = [];
  private closeListeners: ((info: TerminalCloseInfo) => void)[] = [];
  private closed = false;
  private paused = false;
  private held: Buffer[] = [];
  /** Resizes run one at a time, and only the latest waiting one runs. */
  private resizing: Promise<void> = Promise.resolve();
  private nextSize: TermSize | undefined;

  constructor(private readonly o: Options) {
    o.output.onStdout((chunk) => {
      if (this.closed) return;
      // Held while paused, and until someone listens: output may arrive while openTty
      // still resizes, before the caller had a chance to call onData.
      if (this.paused || this.dataListeners.length === 0) this.held.push(Buffer.from(chunk));
      else this.emit(chunk);
    });
    o.output.onStderr((data) => o.logger.warn({ stderr: data.toString('utf8').slice(0, 500) }, 'terminal reader stderr'));
    o.output.onStatus((s) => this.ended(`the terminal reader ended${s.exitCode !== undefined ? ` (exit code ${s.exitCode})` : `: ${s.message ?? ''}`}`));
    o.output.onClose(({ code, reason }) => this.ended(`the sandbox terminal stream closed (${code}${reason ? ` ${reason}` : ''})`));
    // Without input the terminal is useless: end it, so the session re-attaches.
    o.input.onClose(({ code, reason }) => this.ended(`the sandbox terminal input closed (${code}${reason ? ` ${reason}` : ''})`));
  }

  private emit(chunk: Buffer): void {
    for (const l of this.dataListeners) l(chunk);
  }

  private ended(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.o.input.close();
    this.o.output.close();
    for (const l of this.closeListeners) l({ reason });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    if (this.dataListeners.length === 1 && !this.paused) this.flushHeld();
  }

  onClose(listener: (info: TerminalCloseInfo) => void): void {
    this.closeListeners.push(listener);
  }

  write(data: Buffer | string): void {
    if (!this.closed) this.o.input.writeStdinNow(data);
  }

  resize(size: TermSize): Promise<void> {
    this.nextSize = size;
    // A failed resize is its caller's error; the next one still runs.
    this.resizing = this.resizing.catch(() => undefined).then(async () => {
      const next = this.nextSize;
      this.nextSize = undefined;
      if (next !== undefined && !this.closed) await this.o.resize(next);
    });
    return this.resizing;
  }

  pause(): void {
    this.paused = true;
    this.o.output.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.dataListeners.length > 0) this.flushHeld();
    if (!this.paused) this.o.output.resume();
  }

  private flushHeld(): void {
    // A listener may pause again while the held chunks are delivered.
    while (this.held.length > 0 && !this.paused && !this.closed) this.emit(this.held.shift() as Buffer);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.output.close();
    this.o.input.close();
    void this.o.stopReader();
  }
}
