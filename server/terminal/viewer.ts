/**
 * One WebSocket watching the terminal, with its own queue and flow control, so a slow
 * viewer only ever delays itself (the trap in coder's buffered PTY, which writes to every
 * viewer under one lock).
 *
 * `load` = the larger of output bytes sent but not acked and the socket's
 * `bufferedAmount` (a slow TCP peer looks the same as a slow client). At `highWatermark` the viewer stalls: output
 * keeps queuing but nothing is sent until the load drops below `lowWatermark`. A queue
 * past `maxQueueBytes` is dropped whole and replaced, once the viewer has caught up, by a
 * terminal reset and a fresh screen snapshot.
 */
import type { RawData } from 'ws';
import type { TermSize } from '../sandbox/driver.js';
import { encodeControl, encodeOutput, type ControlMessage, type ViewerRole } from './protocol.js';

export interface FlowLimits {
  highWatermark: number;
  lowWatermark: number;
  maxQueueBytes: number;
  /** Queued chunks are coalesced into output frames of about this size. */
  maxFrameBytes: number;
}

/**
 * What the hub needs of a ws `WebSocket` (structurally compatible with it); tests pass
 * a small fake.
 */
export interface ViewerSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** What a viewer asks of its hub. */
export interface ViewerHost {
  /** Bytes that paint the screen exactly as of all output handed to viewers before the call. */
  snapshot(): Promise<Buffer>;
  size(): TermSize;
  /** The viewer's stalled flag flipped: the hub re-decides whether to pause the shell. */
  flowChanged(): void;
  sent(outputBytes: number): void;
  failed(viewer: Viewer, err: Error): void;
}

/** A chunk of output, shared by every viewer's queue so its frame is encoded once. */
export interface OutputItem {
  kind: 'data';
  buf: Buffer;
  frame?: Buffer;
}
type ControlItem = { kind: 'control'; frame: Buffer; resize: boolean };
/** A snapshot being taken; the queue waits at it until `frame` is filled in. */
type SnapshotItem = { kind: 'snapshot'; frame?: Buffer; bytes: number };
type Item = OutputItem | ControlItem | SnapshotItem;

const WS_OPEN = 1;
/** Full reset (RIS): clears whatever the viewer showed before a resync snapshot. */
const RESET = Buffer.from('\x1bc');
const DRAIN_POLL_MS = 250;

export class Viewer {
  private items: Item[] = [];
  private head = 0;
  private queuedBytes = 0;
  private unacked = 0;
  private stall = false;
  private needsResync = false;
  private pumping = false;
  private gone = false;
  /** Re-checks a socket-stalled viewer; owned here, cleared in release(). */
  private drainTimer: NodeJS.Timeout | undefined;
  /** How many times the backlog was dropped for a snapshot (for logs). */
  resyncs = 0;

  constructor(
    readonly socket: ViewerSocket,
    readonly role: ViewerRole,
    private readonly limits: FlowLimits,
    private readonly host: ViewerHost,
  ) {}

  /** Above the high watermark and not yet back under the low one. */
  get stalled(): boolean {
    return this.stall;
  }

  get closed(): boolean {
    return this.gone;
  }

  enqueueOutput(item: OutputItem): void {
    // While a resync is due the backlog is worthless: the coming snapshot covers it.
    if (this.gone || this.needsResync) return;
    if (this.queuedBytes + item.buf.length > this.limits.maxQueueBytes) {
      this.dropBacklog();
    } else {
      this.push(item);
      this.queuedBytes += item.buf.length;
    }
    this.pump();
  }

  /** Queues a control message in order with the output around it. */
  enqueueControl(message: ControlMessage): void {
    if (this.gone) return;
    this.push({ kind: 'control', frame: encodeControl(message), resize: message.type === 'resize' });
    this.pump();
  }

  /** Sends a control message ahead of any queued output (replies such as errors). */
  sendNow(message: ControlMessage): void {
    // A client that never reads must not grow our memory with replies to its own junk.
    if (this.gone || this.socket.bufferedAmount >= this.limits.highWatermark) return;
    this.send(encodeControl(message), 0);
  }

  /** Queues the current screen; output queued after it continues exactly where it ends. */
  startSync(reset: boolean): void {
    if (this.gone) return;
    const item: SnapshotItem = { kind: 'snapshot', bytes: 0 };
    this.push(item);
    this.host.snapshot().then(
      (screen) => {
        if (this.gone) return;
        const payload = reset ? Buffer.concat([RESET, screen]) : screen;
        item.frame = encodeOutput(payload);
        item.bytes = payload.length;
        this.pump();
      },
      (err: unknown) => {
        if (!this.gone) this.host.failed(this, err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** The client processed `bytes` more output bytes. */
  ack(bytes: number): void {
    this.unacked = Math.max(0, this.unacked - bytes);
    this.pump();
  }

  /** Sends what flow control allows. Re-entrant calls (a callback during send) are no-ops. */
  pump(): void {
    if (this.gone || this.pumping) return;
    this.pumping = true;
    try {
      this.refreshStall();
      if (this.needsResync && !this.stall) {
        this.needsResync = false;
        this.push({ kind: 'control', frame: encodeControl({ type: 'resize', ...this.host.size() }), resize: true });
        this.startSync(true);
      }
      while (!this.stall && !this.gone && this.head < this.items.length) {
        const item = this.items[this.head]!;
        if (item.kind === 'snapshot') {
          if (!item.frame) break;
          this.shift();
          if (item.bytes > 0) this.send(item.frame, item.bytes);
        } else if (item.kind === 'control') {
          this.shift();
          this.send(item.frame, 0);
        } else {
          this.sendOutputRun();
        }
        this.refreshStall();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Closes the socket; the viewer is finished either way. */
  close(code: number, reason: string): void {
    if (this.gone) return;
    this.release();
    try {
      this.socket.close(code, reason.slice(0, 120)); // close reasons are capped at 123 bytes
    } catch {
      // already closed underneath us
    }
  }

  /** The socket went away: free the queue. */
  release(): void {
    this.gone = true;
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.items = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  /** Sends consecutive queued chunks as one frame of up to `maxFrameBytes`. */
  private sendOutputRun(): void {
    const first = this.items[this.head] as OutputItem;
    let end = this.head + 1;
    let bytes = first.buf.length;
    while (end < this.items.length && bytes < this.limits.maxFrameBytes) {
      const next = this.items[end]!;
      if (next.kind !== 'data' || bytes + next.buf.length > this.limits.maxFrameBytes) break;
      bytes += next.buf.length;
      end++;
    }
    let frame: Buffer;
    if (end === this.head + 1) {
      first.frame ??= encodeOutput(first.buf); // shared with the other viewers
      frame = first.frame;
    } else {
      frame = encodeOutput(this.items.slice(this.head, end).map((item) => (item as OutputItem).buf));
    }
    for (let n = end - this.head; n > 0; n--) this.shift(); // shift() may compact: count, do not compare indexes
    this.send(frame, bytes);
  }

  private send(frame: Buffer, outputBytes: number): void {
    if (this.socket.readyState !== WS_OPEN) return; // closing: its 'close' event will follow
    this.unacked += outputBytes;
    this.host.sent(outputBytes);
    try {
      this.socket.send(frame, (err) => {
        if (err) this.host.failed(this, err);
        // The socket drained a bit: bufferedAmount may now be under the low watermark.
        else if (this.stall) this.pump();
      });
    } catch (err) {
      this.host.failed(this, err instanceof Error ? err : new Error(String(err)));
    }
  }

  private refreshStall(): void {
    const buffered = this.socket.bufferedAmount;
    // Bytes still in the socket buffer are unacked too, so the two overlap: take the larger.
    // bufferedAmount is what bounds us when a client acks more than it was sent.
    const load = Math.max(this.unacked, buffered);
    const before = this.stall;
    if (!this.stall && load >= this.limits.highWatermark) this.stall = true;
    else if (this.stall && load < this.limits.lowWatermark) this.stall = false;
    if (before !== this.stall) this.host.flowChanged();
    // Send callbacks re-check as the socket drains, but bytes ws queued itself (pings,
    // our replies) have no callback of ours: poll while the socket holds us back.
    if (this.stall && buffered > 0 && !this.drainTimer && !this.gone) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = undefined;
        this.pump();
      }, DRAIN_POLL_MS);
    }
  }

  /** Drops queued output (and superseded resizes); keeps state/exit messages in order. */
  private dropBacklog(): void {
    this.items = this.items.slice(this.head).filter((item) => item.kind === 'control' && !item.resize);
    this.head = 0;
    this.queuedBytes = 0;
    this.needsResync = true;
    this.resyncs++;
  }

  private push(item: Item): void {
    this.items.push(item);
  }

  private shift(): void {
    const item = this.items[this.head]!;
    if (item.kind === 'data') this.queuedBytes -= item.buf.length;
    this.head++;
    // Compact now and then instead of Array.shift per item (O(n) each).
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
