/**
 * Records terminal output to an asciicast v2 file (one JSON header line, then one JSON
 * event per line: `[t, "o", text]` and `[t, "r", "COLSxROWS"]`).
 *
 * Events are buffered and appended at least once per `flushIntervalMs` and on close, not
 * per chunk. After every append a checkpoint `<file>.ckpt` = `{bytes, castBytes}` is
 * replaced atomically (tmp + rename): `bytes` is the absolute output offset whose text the
 * cast holds, `castBytes` the cast's length at that moment. After a restart the cast is
 * cut back to `castBytes` (dropping a tail whose checkpoint never landed) and recording
 * continues from `recordedBytes`, so every output byte lands exactly once.
 *
 * A cap (`maxCastBytes`) bounds the file when a candidate prints without end: once the
 * cast would pass it, a marker event says so and output text is no longer recorded; the
 * hub then records a picture of the screen (`writeScreen`) every few seconds instead, so
 * the replay still shows what the candidate saw, at a few KB per picture. Offsets keep
 * counting, so a restart resumes exactly as before, still capped.
 *
 * UTF-8: a character split across chunks is held back until it completes. The held bytes
 * are not counted in `bytes` (their text is not in the cast yet), which keeps the
 * checkpoint exact; `StringDecoder` would hold them too but cannot say how many it holds.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { TermSize } from '../sandbox/driver.js';

export interface RecorderOptions {
  size: TermSize;
  /** `TERM` written into the header. */
  term?: string;
  flushIntervalMs?: number;
  /** Buffered event text that triggers an early flush, bounding memory between ticks. */
  maxBufferedChars?: number;
  /** Wall clock in ms; injectable for tests. */
  now?: () => number;
  /** Write failures; the recorder stops recording after the first one. */
  onError?: (err: Error) => void;
  /** Cast size past which output text is no longer recorded (see the file comment); none by default. */
  maxCastBytes?: number;
}

/** How `open` found the file: new, continued from its checkpoint, or set aside and restarted. */
export type RecorderOrigin = 'created' | 'resumed' | 'recreated';

interface Checkpoint {
  bytes: number;
  castBytes: number;
  /** The cast reached `maxCastBytes`: only screen pictures follow. */
  capped?: boolean;
}

/** Length of an incomplete UTF-8 sequence at the end of `buf` (0 when it ends on a boundary). */
export function incompleteUtf8Tail(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const byte = buf[buf.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    // Sequence length announced by a lead byte; ASCII and invalid leads stand alone.
    const need = byte < 0xc2 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : byte <= 0xf4 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0; // three continuation bytes without a lead: invalid, decode as is
}

export class Recorder {
  private pendingText: string[] = [];
  private pendingChars = 0;
  /** Bytes of an incomplete UTF-8 character waiting for the next chunk. */
  private carry: Buffer = Buffer.alloc(0);
  /** Absolute output offset represented by the events created so far. */
  private offset: number;
  /** `offset` as of the last checkpoint written. */
  private flushedOffset: number;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private closing: Promise<void> | undefined;
  private failed = false;
  private cappedNow = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    /** Header timestamp (unix seconds); event times are relative to it. */
    readonly startedAt: number,
    private castBytes: number,
    offset: number,
    readonly origin: RecorderOrigin,
    private readonly options: Required<Omit<RecorderOptions, 'onError' | 'size' | 'term' | 'maxCastBytes'>> &
      Pick<RecorderOptions, 'onError' | 'maxCastBytes'>,
    capped = false,
  ) {
    this.cappedNow = capped;
    this.offset = offset;
    this.flushedOffset = offset;
    // Owned by the recorder and cleared in close(); unref so a forgotten recorder cannot
    // keep the process alive.
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  static async open(path: string, options: RecorderOptions): Promise<Recorder> {
    const opts = {
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      maxBufferedChars: options.maxBufferedChars ?? 1024 * 1024,
      now: options.now ?? Date.now,
      onError: options.onError,
      maxCastBytes: options.maxCastBytes,
    };
    const resumed = await tryResume(path);
    if (resumed) {
      const fh = await fs.open(path, 'a');
      const { ckpt } = resumed;
      const rec = new Recorder(path, fh, resumed.timestamp, ckpt.castBytes, ckpt.bytes, 'resumed', opts, ckpt.capped === true);
      rec.resize(options.size); // the shell may come back at another size
      return rec;
    }
    let origin: RecorderOrigin = 'created';
    if (await exists(path)) {
      // A cast without a usable checkpoint: we cannot tell which bytes it holds, so it is
      // kept aside (never deleted) and recording restarts at offset 0.
      await fs.rename(path, `${path}.stale-${Date.now()}`);
      origin = 'recreated';
    }
    const timestamp = Math.floor(opts.now() / 1000);
    const header = `${JSON.stringify({
      version: 2,
      width: options.size.cols,
      height: options.size.rows,
      timestamp,
      env: { TERM: options.term ?? 'xterm-256color' },
    })}\n`;
    const fh = await fs.open(path, 'w');
    try {
      await fh.write(header);
      const castBytes = Buffer.byteLength(header);
      await writeCheckpoint(path, { bytes: 0, castBytes });
      return new Recorder(path, fh, timestamp, castBytes, 0, origin, opts);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The absolute output offset of the next byte to record: resume the shell's output here. */
  get recordedBytes(): number {
    return this.offset + this.carry.length;
  }

  /** True once the cast reached `maxCastBytes`: output text is counted, not recorded. */
  get capped(): boolean {
    return this.cappedNow;
  }

  /** Records output bytes (the next ones after `recordedBytes`). */
  write(chunk: Buffer): void {
    if (this.closed || this.failed || chunk.length === 0) return;
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const complete = data.length - incompleteUtf8Tail(data);
    this.carry = Buffer.from(data.subarray(complete)); // copy: do not pin the caller's chunk
    if (complete === 0) return;
    this.offset += complete;
    if (this.cappedNow) return;
    const event = eventLine([this.time(), 'o', data.toString('utf8', 0, complete)]);
    const max = this.options.maxCastBytes;
    // Characters, not bytes, for the pending text: close enough for a cap of megabytes.
    if (max !== undefined && this.castBytes + this.pendingChars + event.length > max) {
      this.cappedNow = true;
      const size = max >= 1024 * 1024 ? `${Math.round(max / (1024 * 1024))} MB` : `${Math.round(max / 1024)} KB`;
      this.pushLine(eventLine([this.time(), 'm', `recording capped at ${size}: from here on, a picture of the screen every few seconds`]));
      void this.flush();
      return;
    }
    this.pushLine(event);
  }

  /**
   * Records a picture of the whole screen (a serialized screen, as `Screen.snapshot`
   * gives): the replay clears its screen and draws it. Used once the cast is capped.
   */
  writeScreen(text: string): void {
    if (this.closed || this.failed) return;
    this.pushLine(eventLine([this.time(), 'o', `\x1b[H\x1b[2J${text}`]));
  }

  resize(size: TermSize): void {
    if (this.closed || this.failed) return;
    this.pushLine(eventLine([this.time(), 'r', `${size.cols}x${size.rows}`]));
  }

  /**
   * Continues recording at `offset` without bytes for the span in between: the shell's
   * history no longer reaches back to what the cast holds (or the shell is a new one).
   */
  skipTo(offset: number): void {
    this.carry = Buffer.alloc(0);
    this.offset = offset;
  }

  /** Appends buffered events and replaces the checkpoint. Serialized: one append at a time. */
  flush(): Promise<void> {
    this.flushChain = this.flushChain.then(() => this.flushNow());
    return this.flushChain;
  }

  /** Flushes and releases the file. Bytes of an unfinished character stay unrecorded (and uncounted). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearInterval(this.timer);
      await this.flush();
      await this.fh.close();
    })();
    return this.closing;
  }

  private time(): number {
    const t = (this.options.now() - this.startedAt * 1000) / 1000;
    return Math.max(0, Math.round(t * 1e6) / 1e6);
  }

  private pushLine(line: string): void {
    this.pendingText.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= this.options.maxBufferedChars) void this.flush();
  }

  private async flushNow(): Promise<void> {
    if (this.failed || (this.pendingText.length === 0 && this.flushedOffset === this.offset)) return;
    const text = this.pendingText.join('');
    const bytes = this.offset; // every event up to this offset is in `text`
    this.pendingText = [];
    this.pendingChars = 0;
    try {
      if (text.length > 0) {
        const buf = Buffer.from(text, 'utf8');
        await this.fh.write(buf);
        this.castBytes += buf.length;
      }
      await writeCheckpoint(this.path, { bytes, castBytes: this.castBytes, ...(this.cappedNow ? { capped: true } : {}) });
      this.flushedOffset = bytes;
    } catch (err) {
      // A half-written append leaves castBytes unknown; stop rather than write a cast
      // whose checkpoint lies. The file up to the last checkpoint stays valid.
      this.failed = true;
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function eventLine(event: [number, 'o' | 'r' | 'm', string]): string {
  return `${JSON.stringify(event)}\n`;
}

function checkpointPath(path: string): string {
  return `${path}.ckpt`;
}

async function writeCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  const tmp = `${checkpointPath(path)}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(ckpt));
  await fs.rename(tmp, checkpointPath(path));
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Validates an existing cast against its checkpoint and cuts it back to `castBytes`.
 * Returns undefined when there is nothing trustworthy to continue.
 */
async function tryResume(path: string): Promise<{ timestamp: number; ckpt: Checkpoint } | undefined> {
  let ckpt: Checkpoint;
  try {
    const parsed = JSON.parse(await fs.readFile(checkpointPath(path), 'utf8')) as Partial<Checkpoint>;
    if (!Number.isSafeInteger(parsed.bytes) || !Number.isSafeInteger(parsed.castBytes)) return undefined;
    ckpt = { bytes: parsed.bytes!, castBytes: parsed.castBytes!, capped: parsed.capped === true };
    if (ckpt.bytes < 0 || ckpt.castBytes <= 0) return undefined;
  } catch {
    return undefined; // no checkpoint (or unreadable): not resumable
  }
  let fh: FileHandle;
  try {
    fh = await fs.open(path, 'r+');
  } catch {
    return undefined;
  }
  try {
    const { size } = await fh.stat();
    // Without fsync a crash can persist the checkpoint but not all of the cast.
    if (size < ckpt.castBytes) return undefined;
    const head = Buffer.alloc(Math.min(ckpt.castBytes, 4096));
    await fh.read(head, 0, head.length, 0);
    const newline = head.indexOf(0x0a);
    if (newline < 0) return undefined;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, ckpt.castBytes - 1);
    if (last[0] !== 0x0a) return undefined; // the checkpoint must end on a whole event
    const header = JSON.parse(head.toString('utf8', 0, newline)) as { version?: unknown; timestamp?: unknown };
    if (header.version !== 2 || typeof header.timestamp !== 'number') return undefined;
    await fh.truncate(ckpt.castBytes);
    return { timestamp: header.timestamp, ckpt };
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}
