/**
 * A minimal terminal WebSocket client for timing: the same protocol as the web app
 * (opcode byte, then payload; incremental acks), but every frame is timestamped on
 * arrival with no polling in between, and a caller can wait for "the next output frame".
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface Frame {
  at: number;
  data: Buffer;
}

export class BenchTerminal {
  readonly frames: Frame[] = [];
  readonly controls: { at: number; message: { type: string; [k: string]: unknown } }[] = [];
  private text = '';
  private listeners: ((f: Frame) => void)[] = [];
  private controlListeners: (() => void)[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const at = performance.now();
      const buf = isBinary ? data : Buffer.from(data);
      const op = buf[0];
      if (op === 0x30) {
        const payload = Buffer.from(buf.subarray(1));
        const frame = { at, data: payload };
        this.frames.push(frame);
        this.text += payload.toString('latin1');
        if (this.text.length > 64 * 1024) this.text = this.text.slice(-32 * 1024);
        // Ack at once, like a browser that renders immediately.
        this.ws.send(Buffer.from(`2${payload.length}`));
        const ls = this.listeners;
        this.listeners = [];
        for (const l of ls) l(frame);
      } else if (op === 0x31) {
        this.controls.push({ at, message: JSON.parse(buf.subarray(1).toString('utf8')) as { type: string } });
        const ls = this.controlListeners;
        this.controlListeners = [];
        for (const l of ls) l();
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      const ls = this.controlListeners;
      this.controlListeners = [];
      for (const l of ls) l();
    });
  }

  /** Opens the socket; resolves when it is open (not waiting for hello). */
  static open(url: string): Promise<BenchTerminal> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const t = new BenchTerminal(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(t));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`)));
      ws.once('error', reject);
    });
  }

  /** Everything received so far (latin1, so byte offsets are kept), at most the last 32-64 KiB. */
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

  /** Resolves with the arrival time of the first output frame for which `pred` holds (checked on each frame). */
  waitOutput(pred: () => boolean, timeoutMs: number, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
      if (pred()) {
        resolve(this.frames.at(-1)?.at ?? performance.now());
        return;
      }
      const deadline = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last output ${JSON.stringify(this.text.slice(-300))}`)),
        timeoutMs,
      );
      const on = (f: Frame) => {
        if (pred()) {
          clearTimeout(deadline);
          resolve(f.at);
        } else {
          this.listeners.push(on);
        }
      };
      this.listeners.push(on);
    });
  }

  /** Resolves with the next output frame. */
  nextFrame(timeoutMs: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no output within ${timeoutMs} ms`)), timeoutMs);
      this.listeners.push((f) => {
        clearTimeout(deadline);
        resolve(f);
      });
    });
  }

  type(text: string): void {
    this.ws.send(Buffer.concat([Buffer.from('0'), Buffer.from(text)]));
  }

  close(): Promise<void> {
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
