/**
 * A TerminalStream over two engine connections: the container's stdin (attach) for
 * keystrokes, and an exec that follows the shell's output log for output. Output is
 * read from the log rather than from the attach stream so that every byte the shell
 * printed, including while no server was attached, arrives exactly once and in order.
 */
import type { Logger } from 'pino';
import type { TermSize, TerminalCloseInfo, TerminalStream } from './driver.js';
import { DockerStreamDemuxer } from './docker-stream.js';

interface Options {
  input: NodeJS.WritableStream & { destroy(): void; on(event: string, fn: (...a: unknown[]) => void): unknown };
  output: NodeJS.ReadableStream & { destroy(): void; pause(): void; resume(): void };
  resize: (size: TermSize) => Promise<void>;
  stopReader: () => Promise<void>;
  logger: Logger;
}

export class DockerTerminalStream implements TerminalStream {
  private dataListeners: ((chunk: Buffer) => void)[] = [];
  /**
   * Output that arrived before anyone listened (openTty resizes the TTY before returning
   * the stream, and the shell may redraw its prompt at once): handed to the first
   * listener, so nothing between the history and the live stream is lost.
   */
  private early: Buffer[] | null = [];
  private closeListeners: ((info: TerminalCloseInfo) => void)[] = [];
  private closed = false;
  private readonly demux: DockerStreamDemuxer;

  constructor(private readonly o: Options) {
    this.demux = new DockerStreamDemuxer((kind, data) => {
      if (kind !== 'stdout') {
        o.logger.warn({ stderr: data.toString('utf8').slice(0, 500) }, 'terminal reader stderr');
      } else if (this.early) {
        this.early.push(Buffer.from(data));
      } else {
        for (const l of this.dataListeners) l(data);
      }
    });
    o.output.on('data', (chunk: Buffer) => this.demux.push(chunk));
    o.output.on('end', () => this.ended('the sandbox terminal stream ended'));
    o.output.on('close', () => this.ended('the sandbox terminal stream closed'));
    o.output.on('error', (e: Error) => this.ended(`terminal stream error: ${e.message}`));
    o.input.on('error', (e: unknown) => o.logger.warn({ err: e }, 'terminal input stream error'));
  }

  private ended(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.o.input.destroy();
    for (const l of this.closeListeners) l({ reason });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    const early = this.early;
    this.early = null;
    for (const chunk of early ?? []) listener(chunk);
  }

  onClose(listener: (info: TerminalCloseInfo) => void): void {
    this.closeListeners.push(listener);
  }

  write(data: Buffer | string): void {
    if (!this.closed) this.o.input.write(data);
  }

  resize(size: TermSize): Promise<void> {
    return this.o.resize(size);
  }

  pause(): void {
    this.o.output.pause();
  }

  resume(): void {
    this.o.output.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.output.destroy();
    this.o.input.destroy();
    void this.o.stopReader();
  }
}
