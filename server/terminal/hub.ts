/**
 * One shell attachment, many viewers. Every output chunk goes, in order, to the recorder
 * (before any flow control, so the recording never depends on who watches), the server's
 * screen, and each viewer's own queue. The hub owns the stream, the recorder, the screen
 * and every attached socket, and disposes of all of them in `close()`.
 *
 * The shell is paused only when no viewer can keep up (every one stalled) or when the
 * screen's parser is far behind (xterm drops data past 50 MB pending); never for one
 * slow viewer, and never merely because nobody watches.
 */
import type { RawData } from 'ws';
import type { Logger } from 'pino';
import type { TermSize, TerminalStream, TtyAttachment } from '../sandbox/driver.js';
import { AppError, describeError, isAppError } from '../errors.js';
import { CLOSE_CODES, decodeClientFrame, isValidSize, type ControlMessage, type ViewerRole } from './protocol.js';
import { incompleteUtf8Tail, Recorder } from './recorder.js';
import { Screen } from './screen.js';
import { Viewer, type FlowLimits, type OutputItem, type ViewerHost, type ViewerSocket } from './viewer.js';

export type { ViewerSocket } from './viewer.js';

export interface HubLimits extends FlowLimits {
  maxViewers: number;
  /** Unparsed screen bytes at which the shell is paused until the parser catches up. */
  screenLagBytes: number;
}

export const DEFAULT_HUB_LIMITS: HubLimits = {
  highWatermark: 512 * 1024,
  lowWatermark: 128 * 1024,
  maxQueueBytes: 8 * 1024 * 1024,
  maxFrameBytes: 64 * 1024,
  maxViewers: 32,
  screenLagBytes: 8 * 1024 * 1024,
};

export interface TerminalHubOptions {
  sessionId: string;
  /** Attaches to the sandbox's shell at this size (e.g. `driver.openTty(ref, size)`). */
  open: (size: TermSize) => Promise<TtyAttachment>;
  /** The asciicast file; continued if it exists with a checkpoint. */
  recordingPath: string;
  size: TermSize;
  limits?: Partial<HubLimits>;
  logger: Logger;
  /** The stream ended by itself (not through `close()`); the session should fail. */
  onStreamClosed?: (reason: string) => void;
  /** The shell's size changed (so a re-adopting server can restore it). */
  onResize?: (size: TermSize) => void;
  scrollback?: number;
  /** Recorder flush period; 1 s by default. */
  recordFlushMs?: number;
  /** Recording size past which it keeps screen pictures instead of output (Recorder `maxCastBytes`). */
  recordingMaxBytes?: number;
  /** Once the recording is capped: at most one screen picture per this period, while output flows. */
  screenPictureMs?: number;
}

export interface HubStats {
  viewers: number;
  /** Output bytes received from the shell (live, excluding history). */
  bytesIn: number;
  /** Output-frame payload bytes sent to viewers, all of them together. */
  bytesOut: number;
  paused: boolean;
  /** How many times the shell was paused. */
  pauses: number;
}

export class TerminalHub {
  private readonly viewers = new Set<Viewer>();
  private readonly stream: TerminalStream;
  private readonly log: Logger;
  private currentSize: TermSize;
  private paused = false;
  private pauses = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private streamEnded = false;
  private exitMessage: ControlMessage | undefined;
  private closing: Promise<void> | undefined;
  /** Stream resizes run one after another so the shell ends at the last size asked for. */
  private resizeChain: Promise<void> = Promise.resolve();
  private readonly host: ViewerHost;
  /**
   * Bytes of a UTF-8 character the output so far ends inside of. The screen holds them
   * unprinted, so a snapshot taken now ends before that character; the bytes are appended
   * to the snapshot so the live bytes that follow complete it instead of showing U+FFFD.
   */
  private utf8Tail: Buffer = Buffer.alloc(0);
  /** One snapshot serves every viewer that asks before more output arrives. */
  private sharedSnapshot: Promise<Buffer> | undefined;
  /** The next screen picture for a capped recording, while one is due. */
  private pictureTimer: NodeJS.Timeout | undefined;
  /**
   * Output arrived after the due picture was taken (while the screen was still parsing its
   * backlog): another picture is due once that one is written, or the replay would show a
   * stale screen until the session closes.
   */
  private pictureAgain = false;

  static async start(options: TerminalHubOptions): Promise<TerminalHub> {
    const limits = { ...DEFAULT_HUB_LIMITS, ...options.limits };
    if (!(limits.lowWatermark > 0 && limits.lowWatermark < limits.highWatermark && limits.highWatermark <= limits.maxQueueBytes)) {
      throw new AppError('CONFIG_INVALID', 'terminal limits need 0 < lowWatermark < highWatermark <= maxQueueBytes');
    }
    if (!isValidSize(options.size)) throw new AppError('VALIDATION', 'invalid terminal size');
    const log = options.logger.child({ component: 'terminal-hub', sessionId: options.sessionId });
    let recorder: Recorder;
    try {
      recorder = await Recorder.open(options.recordingPath, {
        size: options.size,
        flushIntervalMs: options.recordFlushMs,
        onError: (err) => log.error({ err }, 'recording stopped: write failed'),
        maxCastBytes: options.recordingMaxBytes,
      });
    } catch (err) {
      throw new AppError('INTERNAL', `cannot open the terminal recording: ${describeError(err)}`, { cause: err });
    }
    const screen = new Screen(options.size, { scrollback: options.scrollback, lagHighBytes: limits.screenLagBytes });
    let attachment: TtyAttachment;
    try {
      attachment = await options.open(options.size);
    } catch (err) {
      screen.dispose();
      await recorder.close();
      if (isAppError(err)) throw err;
      throw new AppError('SANDBOX_FAILED', `cannot attach to the shell: ${describeError(err)}`, { cause: err });
    }
    // No await between open() resolving and the constructor subscribing: no chunk is missed.
    return new TerminalHub(options, limits, log, recorder, screen, attachment);
  }

  private constructor(
    private readonly options: TerminalHubOptions,
    private readonly limits: HubLimits,
    log: Logger,
    private readonly recorder: Recorder,
    private readonly screen: Screen,
    attachment: TtyAttachment,
  ) {
    this.log = log;
    this.currentSize = { ...options.size };
    this.stream = attachment.stream;
    this.host = {
      snapshot: () => this.snapshot(),
      size: () => ({ ...this.currentSize }),
      flowChanged: () => this.updateFlow(),
      sent: (bytes) => {
        this.bytesOut += bytes;
      },
      failed: (viewer, err) => {
        this.log.warn({ err, role: viewer.role }, 'terminal viewer dropped');
        this.detach(viewer, CLOSE_CODES.INTERNAL, 'terminal viewer failed');
      },
    };
    this.stream.onData((chunk) => this.onData(chunk));
    this.stream.onClose((info) => this.onStreamClose(info.reason));
    this.screen.onDrained = () => this.updateFlow();
    if (recorder.origin !== 'created') {
      this.log.info({ origin: recorder.origin, recordedBytes: recorder.recordedBytes }, 'terminal recording reopened');
    }
    this.ingestHistory(attachment.history);
  }

  get size(): TermSize {
    return { ...this.currentSize };
  }

  /** True once the shell's stream ended or the hub closed: it serves no one any more. */
  get ended(): boolean {
    return this.streamEnded || this.closing !== undefined;
  }

  get stats(): HubStats {
    return { viewers: this.viewers.size, bytesIn: this.bytesIn, bytesOut: this.bytesOut, paused: this.paused, pauses: this.pauses };
  }

  /**
   * Adds a viewer: it gets `hello`, the current screen, then live output. The hub owns the
   * socket from here on. Returns false (and closes the socket) if it cannot be served.
   */
  attach(socket: ViewerSocket, role: ViewerRole): boolean {
    if (this.closing) {
      socket.close(CLOSE_CODES.GOING_AWAY, 'terminal closed');
      return false;
    }
    if (socket.readyState !== 1) return false; // already closing: its 'close' event may be gone
    if (this.viewers.size >= this.limits.maxViewers) {
      socket.close(CLOSE_CODES.TOO_MANY_VIEWERS, 'too many viewers');
      return false;
    }
    const viewer = new Viewer(socket, role, this.limits, this.host);
    this.viewers.add(viewer);
    socket.on('message', (data) => this.onMessage(viewer, data));
    socket.on('close', () => this.detach(viewer));
    socket.on('error', (err) => {
      this.log.debug({ err }, 'terminal socket error');
      this.detach(viewer);
    });
    viewer.enqueueControl({ type: 'hello', role, session: this.options.sessionId, ...this.currentSize });
    viewer.startSync(false);
    if (this.exitMessage) viewer.enqueueControl(this.exitMessage);
    this.updateFlow();
    return true;
  }

  /** Sends a control message (e.g. `{type: "state"}`) to every viewer, in order with output. */
  broadcastControl(message: ControlMessage): void {
    for (const viewer of this.viewers) viewer.enqueueControl(message);
  }

  /** Resizes the shell, the screen and the recording, and tells every viewer. */
  resize(size: TermSize): void {
    if (this.closing || !isValidSize(size)) return;
    if (size.cols === this.currentSize.cols && size.rows === this.currentSize.rows) return;
    const next = { cols: size.cols, rows: size.rows };
    this.currentSize = next;
    this.sharedSnapshot = undefined;
    this.screen.resize(next);
    this.recorder.resize(next);
    this.broadcastControl({ type: 'resize', ...next });
    this.options.onResize?.(next);
    if (this.streamEnded) return;
    this.resizeChain = this.resizeChain
      .then(() => (this.closing ? undefined : this.stream.resize(next)))
      .catch((err: unknown) => this.log.warn({ err, size: next }, 'shell resize failed'));
  }

  /** Detaches from the shell (which keeps running), closes every viewer and flushes the recording. */
  close(options: { code?: number; reason?: string } = {}): Promise<void> {
    this.closing ??= (async () => {
      this.stream.close();
      if (this.pictureTimer) {
        clearTimeout(this.pictureTimer);
        this.pictureTimer = undefined;
        // The last picture: the screen as the session left it.
        await this.screen.snapshot({ scrollback: 0 }).then((text) => this.recorder.writeScreen(text), () => undefined);
      }
      for (const viewer of this.viewers) viewer.close(options.code ?? CLOSE_CODES.GOING_AWAY, options.reason ?? 'terminal closed');
      this.viewers.clear();
      this.screen.dispose();
      await this.recorder.close();
    })();
    return this.closing;
  }

  /**
   * History is everything the shell printed before the live stream. The screen needs all
   * of it; the recording only what it does not hold yet (after a restart it holds a
   * prefix, up to `recordedBytes`).
   */
  private ingestHistory(history: TtyAttachment['history']): void {
    const { offset, data } = history;
    this.writeScreen(data);
    const recorded = this.recorder.recordedBytes;
    const end = offset + data.length;
    if (recorded < offset) {
      this.log.warn({ recorded, offset }, 'terminal recording has a gap: the shell history starts later');
      this.recorder.skipTo(offset);
      this.recorder.write(data);
    } else if (recorded > end) {
      this.log.warn({ recorded, end }, 'terminal recording is ahead of the shell output (a new shell?)');
      this.recorder.skipTo(end);
    } else {
      this.recorder.write(data.subarray(recorded - offset));
    }
    this.updateFlow();
  }

  private onData(chunk: Buffer): void {
    if (this.closing || chunk.length === 0) return;
    this.bytesIn += chunk.length;
    this.recorder.write(chunk);
    this.writeScreen(chunk);
    if (this.recorder.capped) this.schedulePicture();
    const item: OutputItem = { kind: 'data', buf: chunk };
    for (const viewer of this.viewers) viewer.enqueueOutput(item);
    this.updateFlow();
  }

  private writeScreen(data: Buffer): void {
    if (data.length === 0) return;
    this.sharedSnapshot = undefined;
    this.screen.write(data);
    const probe = data.length >= 3 ? data.subarray(-3) : Buffer.concat([this.utf8Tail, data]).subarray(-3);
    this.utf8Tail = Buffer.from(probe.subarray(probe.length - incompleteUtf8Tail(probe)));
  }

  /**
   * A capped recording gets a picture of the visible screen at most once per period while
   * output flows (xterm's serializer, without scrollback: a few KB), so the replay still
   * shows what the candidate saw.
   */
  private schedulePicture(): void {
    if (this.closing) return;
    if (this.pictureTimer) {
      this.pictureAgain = true;
      return;
    }
    this.pictureTimer = setTimeout(() => {
      // The snapshot holds every byte written until now, whenever the parser gets to it.
      this.pictureAgain = false;
      this.screen.snapshot({ scrollback: 0 }).then(
        (text) => {
          this.pictureTimer = undefined;
          this.recorder.writeScreen(text);
          if (this.pictureAgain) this.schedulePicture();
        },
        () => {
          this.pictureTimer = undefined; // disposed: the hub is closing
        },
      );
    }, this.options.screenPictureMs ?? 2000);
    this.pictureTimer.unref();
  }

  private snapshot(): Promise<Buffer> {
    if (!this.sharedSnapshot) {
      const tail = this.utf8Tail;
      this.sharedSnapshot = this.screen.snapshot().then((text) => Buffer.concat([Buffer.from(text, 'utf8'), tail]));
    }
    return this.sharedSnapshot;
  }

  private onMessage(viewer: Viewer, raw: RawData): void {
    try {
      this.handleFrame(viewer, raw);
    } catch (err) {
      // A throwing stream (e.g. write after the engine went away) must not escape into ws.
      this.log.warn({ err }, 'terminal frame handling failed');
    }
  }

  private handleFrame(viewer: Viewer, raw: RawData): void {
    if (viewer.closed) return;
    const decoded = decodeClientFrame(toBuffer(raw));
    if (!decoded.ok) {
      viewer.sendNow({ type: 'error', code: 'BAD_FRAME', message: decoded.error.message });
      return;
    }
    const frame = decoded.frame;
    switch (frame.type) {
      case 'ack':
        viewer.ack(frame.bytes);
        break;
      case 'input':
        if (viewer.role !== 'candidate') {
          viewer.sendNow({ type: 'error', code: 'READ_ONLY', message: 'this terminal connection is read-only' });
        } else if (!this.streamEnded && !this.closing && frame.data.length > 0) {
          this.stream.write(frame.data);
        }
        break;
      case 'resize':
        if (viewer.role === 'candidate') this.resize(frame.size); // observers follow the candidate's size
        break;
    }
  }

  private onStreamClose(reason: string): void {
    if (this.closing || this.streamEnded) return;
    this.streamEnded = true;
    this.log.warn({ reason }, 'shell stream ended');
    this.exitMessage = { type: 'exit', reason };
    this.broadcastControl(this.exitMessage);
    // The recording is finished (and its file released) before anyone is told: a re-attach
    // opens the same file for the next hub, which must not race this one's last append.
    void this.recorder.close().finally(() => {
      try {
        this.options.onStreamClosed?.(reason);
      } catch (err) {
        this.log.error({ err }, 'onStreamClosed callback threw');
      }
    });
  }

  private detach(viewer: Viewer, code?: number, reason?: string): void {
    if (!this.viewers.delete(viewer)) return;
    if (code !== undefined) viewer.close(code, reason ?? '');
    else viewer.release();
    this.updateFlow();
  }

  /** Pause the shell only if nobody can keep up or the screen is far behind. */
  private updateFlow(): void {
    if (this.closing || this.streamEnded) return;
    let everyoneStalled = this.viewers.size > 0;
    for (const viewer of this.viewers) {
      if (!viewer.stalled) {
        everyoneStalled = false;
        break;
      }
    }
    const pause = everyoneStalled || this.screen.lagging;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) {
      this.pauses++;
      this.stream.pause();
    } else {
      this.stream.resume();
    }
  }
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}
