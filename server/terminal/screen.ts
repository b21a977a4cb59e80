/**
 * The server's copy of the terminal screen: a headless xterm fed every output byte, so a
 * viewer that connects late (or fell behind) can be sent what is on the screen now.
 *
 * xterm parses asynchronously (its write buffer drains in timer slices), so everything
 * that must happen "after byte N" goes through the write queue: a snapshot is serialized
 * inside a write callback, and a resize is applied the same way so bytes printed before
 * the resize are laid out at the old size, as the real terminal did.
 */
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import type { TermSize } from '../sandbox/driver.js';

// Both packages are CommonJS without an `exports` map; the default import is their
// module.exports, which is the reliable way to reach them from ESM.
const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
type XTerm = InstanceType<typeof Terminal>;
type Serializer = InstanceType<typeof SerializeAddon>;

export interface ScreenOptions {
  /** Lines of scrollback kept (and sent in snapshots). */
  scrollback?: number;
  /**
   * Unparsed bytes above which the screen reports `lagging`. xterm throws once 50 MB are
   * pending, so the hub pauses the shell long before that.
   */
  lagHighBytes?: number;
  /** `lagging` clears (and `onDrained` fires) once pending bytes fall to this. */
  lagLowBytes?: number;
}

export class ScreenDisposedError extends Error {
  constructor() {
    super('screen disposed');
    this.name = 'ScreenDisposedError';
  }
}

export class Screen {
  private readonly term: XTerm;
  private readonly serializer: Serializer;
  private readonly lagHigh: number;
  private readonly lagLow: number;
  private pending = 0;
  private lag = false;
  private disposed = false;
  /** Rejecters of snapshots still waiting for the parser; settled on dispose so no promise hangs. */
  private readonly waiting = new Set<(err: Error) => void>();
  /** Called when `lagging` goes back to false. */
  onDrained: () => void = () => {};

  constructor(size: TermSize, options: ScreenOptions = {}) {
    this.term = new Terminal({
      cols: size.cols,
      rows: size.rows,
      scrollback: options.scrollback ?? 1000,
      allowProposedApi: true,
    });
    this.serializer = new SerializeAddon();
    this.term.loadAddon(this.serializer);
    this.lagHigh = options.lagHighBytes ?? 8 * 1024 * 1024;
    this.lagLow = options.lagLowBytes ?? Math.floor(this.lagHigh / 4);
  }

  /** Bytes written but not parsed yet. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** True while the parser is too far behind (see `lagHighBytes`). */
  get lagging(): boolean {
    return this.lag;
  }

  write(data: Buffer): void {
    if (this.disposed || data.length === 0) return;
    const length = data.length;
    this.pending += length;
    if (this.pending >= this.lagHigh) this.lag = true;
    this.term.write(data, () => {
      this.pending -= length;
      if (this.disposed) return;
      if (this.lag && this.pending <= this.lagLow) {
        this.lag = false;
        this.onDrained();
      }
    });
  }

  /** Resizes once every byte written so far has been parsed. */
  resize(size: TermSize): void {
    if (this.disposed) return;
    this.term.write('', () => {
      if (!this.disposed) this.term.resize(size.cols, size.rows);
    });
  }

  /**
   * The screen (with scrollback and modes) as a string that recreates it when written to
   * a fresh terminal, reflecting exactly the bytes written before this call. It is
   * serialized inside the write callback: once the promise settles the parser may
   * already have consumed later writes. `scrollback: 0` gives only the visible screen.
   */
  snapshot(options: { scrollback?: number } = {}): Promise<string> {
    if (this.disposed) return Promise.reject(new ScreenDisposedError());
    return new Promise<string>((resolve, reject) => {
      this.waiting.add(reject);
      this.term.write('', () => {
        if (!this.waiting.delete(reject)) return; // disposed meanwhile; already rejected
        try {
          resolve(this.serializer.serialize(options.scrollback === undefined ? undefined : { scrollback: options.scrollback }));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const reject of this.waiting) reject(new ScreenDisposedError());
    this.waiting.clear();
    this.serializer.dispose();
    this.term.dispose();
  }
}
