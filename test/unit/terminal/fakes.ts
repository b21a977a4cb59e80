/**
 * Fakes for the terminal hub tests: a TerminalStream the test drives, a WebSocket-shaped
 * viewer socket that records frames and can ack like the web client, and a client-side
 * terminal that renders what a viewer received.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xtermHeadless from '@xterm/headless';
import { pino } from 'pino';
import type { RawData } from 'ws';
import type { TerminalCloseInfo, TerminalStream, TermSize } from '../../../server/sandbox/driver.js';
import { decodeServerFrame, encodeAck, type ControlMessage } from '../../../server/terminal/protocol.js';
import { TerminalHub, type TerminalHubOptions, type ViewerSocket } from '../../../server/terminal/hub.js';

const { Terminal } = xtermHeadless;

export class FakeStream implements TerminalStream {
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly closeListeners: ((info: TerminalCloseInfo) => void)[] = [];
  private resumeWaiters: (() => void)[] = [];
  readonly written: Buffer[] = [];
  readonly resizes: TermSize[] = [];
  paused = false;
  pauseCalls = 0;
  resumeCalls = 0;
  closed = false;

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }
  onClose(listener: (info: TerminalCloseInfo) => void): void {
    this.closeListeners.push(listener);
  }
  write(data: Buffer | string): void {
    this.written.push(Buffer.from(data));
  }
  resize(size: TermSize): Promise<void> {
    this.resizes.push(size);
    return Promise.resolve();
  }
  pause(): void {
    this.pauseCalls++;
    this.paused = true;
  }
  resume(): void {
    this.resumeCalls++;
    this.paused = false;
    const waiters = this.resumeWaiters;
    this.resumeWaiters = [];
    for (const w of waiters) w();
  }
  close(): void {
    this.closed = true;
  }

  /** The shell prints `chunk` (regardless of pause: tests check pause separately). */
  emit(chunk: Buffer | string): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8');
    for (const l of this.dataListeners) l(buf);
  }

  /** The attachment ends by itself. */
  end(reason: string): void {
    for (const l of this.closeListeners) l({ reason });
  }

  /**
   * Behaves like a real shell reader: emits `chunks` one per macrotask and stops while
   * paused. Resolves when all are emitted, or `false` if still paused after `stallMs`.
   */
  async produce(chunks: Buffer[], stallMs = 200): Promise<boolean> {
    for (const chunk of chunks) {
      if (this.paused) {
        const resumed = await Promise.race([
          new Promise<true>((resolve) => this.resumeWaiters.push(() => resolve(true))),
          sleep(stallMs).then(() => false as const),
        ]);
        if (!resumed) return false;
      }
      this.emit(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return true;
  }
}

type Listener = (...args: never[]) => void;

export class FakeSocket implements ViewerSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly frames: Buffer[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  /** Ack every output frame as the web client does after writing it to xterm. */
  autoAck: boolean;
  /** Hold send callbacks (a socket that has not flushed) until `flushCallbacks()`. */
  holdCallbacks = false;
  private heldCallbacks: ((err?: Error) => void)[] = [];
  private receivedOutput = 0;
  private ackedOutput = 0;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(options: { autoAck?: boolean } = {}) {
    this.autoAck = options.autoAck ?? false;
  }

  send(data: Buffer, cb?: (err?: Error) => void): void {
    if (this.readyState !== 1) throw new Error('send on a closed socket');
    this.frames.push(Buffer.from(data));
    if (data[0] === 0x30) {
      this.receivedOutput += data.length - 1;
      if (this.autoAck) queueMicrotask(() => this.ackAll());
    }
    if (this.holdCallbacks) {
      // Not written out yet: ws counts it in bufferedAmount until its callback fires.
      this.bufferedAmount += data.length;
      if (cb) this.heldCallbacks.push(cb);
    } else if (cb) {
      queueMicrotask(() => cb());
    }
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedWith = { code, reason };
    this.fire('close');
  }

  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string, listener: Listener): this {
    const list = this.listeners.get(event) ?? [];
    list.push(listener);
    this.listeners.set(event, list);
    return this;
  }

  /** The client sends a frame. */
  clientSend(frame: Buffer): void {
    this.fire('message', frame, true);
  }

  /** The client acks everything it has received so far. */
  ackAll(): void {
    const n = this.receivedOutput - this.ackedOutput;
    if (n <= 0 || this.readyState !== 1) return;
    this.ackedOutput += n;
    this.clientSend(encodeAck(n));
  }

  /** The peer vanished: the socket closes from the client's side. */
  drop(): void {
    this.close(1006, '');
  }

  /** The peer read everything: the socket's buffer empties and the send callbacks fire. */
  flushCallbacks(): void {
    this.bufferedAmount = 0;
    const held = this.heldCallbacks;
    this.heldCallbacks = [];
    for (const cb of held) cb();
  }

  get outputBytes(): number {
    return this.receivedOutput;
  }

  /** Every output payload, concatenated in arrival order. */
  output(): Buffer {
    return Buffer.concat(this.decoded().flatMap((f) => (f.type === 'output' ? [f.data] : [])));
  }

  controls(): ControlMessage[] {
    return this.decoded().flatMap((f) => (f.type === 'control' ? [f.message] : []));
  }

  decoded(): ({ type: 'output'; data: Buffer } | { type: 'control'; message: ControlMessage })[] {
    return this.frames.map((frame) => {
      const d = decodeServerFrame(frame);
      if (!d.ok) throw new Error(`server sent a malformed frame: ${d.error.message}`);
      return d.frame;
    });
  }

  private fire(event: string, ...args: unknown[]): void {
    for (const l of this.listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` holds (tests must not hang: fails after `timeoutMs`). */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** `line 000042\r\n` for `from <= i < to`. */
export function numberedLines(from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) out += `line ${String(i).padStart(6, '0')}\r\n`;
  return out;
}

/** Splits a buffer into chunks of `size` bytes (the last may be shorter). */
export function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** What a viewer's xterm shows after writing `data`: every buffer line, right-trimmed. */
export async function render(data: Buffer | string, size: TermSize, scrollback = 100_000): Promise<string[]> {
  const term = new Terminal({ cols: size.cols, rows: size.rows, scrollback, allowProposedApi: true });
  try {
    await new Promise<void>((resolve) => term.write(data, resolve));
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  } finally {
    term.dispose();
  }
}

/** The numbers of `line NNNNNN` rows, in screen order. */
export function lineNumbers(lines: string[]): number[] {
  return lines.flatMap((l) => {
    const m = /^line (\d{6})$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

export interface HubFixture {
  hub: TerminalHub;
  stream: FakeStream;
  dir: string;
  recordingPath: string;
  closedReasons: string[];
  /** Closes the hub and removes the temp dir. */
  dispose(): Promise<void>;
}

/** Starts a hub on a FakeStream, recording into a fresh temp dir (or `recordingPath`). */
export async function startHub(
  options: Partial<Omit<TerminalHubOptions, 'open' | 'logger'>> & { history?: { offset: number; data: Buffer } } = {},
): Promise<HubFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'opslab-term-'));
  const stream = new FakeStream();
  const closedReasons: string[] = [];
  const recordingPath = options.recordingPath ?? join(dir, 'terminal.cast');
  const hub = await TerminalHub.start({
    sessionId: options.sessionId ?? 'sess-1',
    size: options.size ?? { cols: 80, rows: 24 },
    limits: options.limits,
    scrollback: options.scrollback,
    recordingMaxBytes: options.recordingMaxBytes,
    screenPictureMs: options.screenPictureMs,
    recordingPath,
    logger: pino({ level: 'silent' }),
    onStreamClosed: (reason) => closedReasons.push(reason),
    open: () => Promise.resolve({ stream, history: options.history ?? { offset: 0, data: Buffer.alloc(0) } }),
  });
  return {
    hub,
    stream,
    dir,
    recordingPath,
    closedReasons,
    dispose: async () => {
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Parses an asciicast v2 file strictly: a header line, then one event per line. */
export async function readCast(path: string): Promise<{
  header: { version: number; width: number; height: number; timestamp: number; env: { TERM: string } };
  events: [number, string, string][];
  text: string;
}> {
  const raw = await readFile(path, 'utf8');
  if (!raw.endsWith('\n')) throw new Error('cast does not end with a newline');
  const lines = raw.slice(0, -1).split('\n');
  const header = JSON.parse(lines[0]!) as Awaited<ReturnType<typeof readCast>>['header'];
  const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  for (const e of events) {
    if (e.length !== 3 || typeof e[0] !== 'number' || !['o', 'r', 'm'].includes(e[1]) || typeof e[2] !== 'string') {
      throw new Error(`bad event ${JSON.stringify(e)}`);
    }
  }
  const text = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  return { header, events, text };
}
