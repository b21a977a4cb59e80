/**
 * A minimal terminal WebSocket client for timing: the same protocol as the web app
 * (opcode byte, then payload; incremental acks), with every frame timestamped on arrival
 * and no polling in between.
 *
 * Acks: `immediate` acks each output frame as it arrives (a browser that renders at
 * once); `web` batches them exactly as web/src/terminal/connection.ts does (an ack when
 * 32 KiB are pending, otherwise 15 ms after the first unacked frame).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export type AckMode = 'immediate' | 'web';

/** The web app's ack batching (web/src/terminal/connection.ts). */
const WEB_ACK_BATCH_BYTES = 32 * 1024;
const WEB_ACK_DELAY_MS = 15;

export type OutputListener = (data: Buffer, at: number) => void;

export class BenchTerminal {
  readonly controls: { at: number; message: { type: string; [k: string]: unknown } }[] = [];
  /** Output frames received so far, and when the last one arrived. */
  frameCount = 0;
  lastFrameAt = 0;
  private text = '';
  private outputListeners = new Set<OutputListener>();
  private controlListeners: (() => void)[] = [];
  private ackPending = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  closed: { code: number; reason: string } | null = null;

  private constructor(
    readonly ws: WebSocket,
    private readonly ackMode: AckMode,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const at = performance.now();
      const buf = isBinary ? data : Buffer.from(data);
      const op = buf[0];
      if (op === 0x30) {
        const payload = buf.subarray(1);
        this.frameCount++;
        this.lastFrameAt = at;
        // Keep only a bounded tail: enough to find a prompt or a marker.
        this.text = (this.text + payload.subarray(-4096).toString('latin1')).slice(-8192);
        this.ack(payload.length);
        for (const l of [...this.outputListeners]) l(payload, at);
      } else if (op === 0x31) {
        this.controls.push({ at, message: JSON.parse(buf.subarray(1).toString('utf8')) as { type: string } });
        const ls = this.controlListeners;
        this.controlListeners = [];
        for (const l of ls) l();
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      if (this.ackTimer) clearTimeout(this.ackTimer);
      const ls = this.controlListeners;
      this.controlListeners = [];
      for (const l of ls) l();
    });
  }

  /** Opens the socket; resolves when it is open (not waiting for hello). */
  static open(url: string, ackMode: AckMode = 'immediate'): Promise<BenchTerminal> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const t = new BenchTerminal(ws, ackMode);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(t));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`)));
      ws.once('error', reject);
    });
  }

  private ack(bytes: number): void {
    if (this.ackMode === 'immediate') {
      this.ws.send(Buffer.from(`2${bytes}`));
      return;
    }
    this.ackPending += bytes;
    if (this.ackPending >= WEB_ACK_BATCH_BYTES) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), WEB_ACK_DELAY_MS);
  }

  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.ackPending <= 0 || this.ws.readyState !== WebSocket.OPEN) return;
    const n = this.ackPending;
    this.ackPending = 0;
    this.ws.send(Buffer.from(`2${n}`));
  }

  /** Calls `fn` for every output frame from now on; returns the unsubscribe function. */
  onOutput(fn: OutputListener): () => void {
    this.outputListeners.add(fn);
    return () => this.outputListeners.delete(fn);
  }

  /** The last few KiB received (latin1). */
  recentText(): string {
    return this.text;
  }

  waitControl(type: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no ${type} control message within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const m = this.controls.find((c) => c.message.type === type);
        if (m) {
          clearTimeout(deadline);
          resolve(m.at);
        } else if (this.closed) {
          clearTimeout(deadline);
          reject(new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before ${type}`));
        } else {
          this.controlListeners.push(check);
        }
      };
      check();
    });
  }

  /** Resolves with the arrival time of the first output frame after which `pred` holds (checked on each frame). */
  waitOutput(pred: () => boolean, timeoutMs: number, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
      if (pred()) {
        resolve(this.lastFrameAt || performance.now());
        return;
      }
      const deadline = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last output ${JSON.stringify(this.text.slice(-300))}`));
      }, timeoutMs);
      const off = this.onOutput((_d, at) => {
        if (!pred()) return;
        clearTimeout(deadline);
        off();
        resolve(at);
      });
    });
  }

  /** Resolves with the arrival time of the next output frame. */
  nextFrame(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        off();
        reject(new Error(`no output within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onOutput((_d, at) => {
        clearTimeout(deadline);
        off();
        resolve(at);
      });
    });
  }

  type(text: string): void {
    this.ws.send(Buffer.concat([Buffer.from('0'), Buffer.from(text)]));
  }

  close(): Promise<void> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.closed || this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2_000);
      this.ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.ws.close();
    });
  }
}
