/**
 * A terminal client for tests, speaking the API's WebSocket protocol like the browser
 * does: decodes frames, keeps every output byte, and acks what it has "processed".
 * `ackDelayMs` / `autoAck: false` make a deliberately slow viewer.
 */
import WebSocket from 'ws';

export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused: ${status}`);
  }
}

// CSI, OSC (ended by BEL or ST), and two-byte escapes: matching control characters is the point.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_=>])/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

export interface ControlMessage {
  type: string;
  [k: string]: unknown;
}

export class TerminalClient {
  readonly output: Buffer[] = [];
  readonly controls: ControlMessage[] = [];
  outputBytes = 0;
  private acked = 0;
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(
    readonly ws: WebSocket,
    private readonly opts: { autoAck: boolean; ackDelayMs: number },
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const buf = isBinary ? data : Buffer.from(data);
      const op = buf[0];
      if (op === 0x30) {
        const payload = buf.subarray(1);
        this.output.push(Buffer.from(payload));
        this.outputBytes += payload.length;
        if (this.opts.autoAck) this.scheduleAck();
      } else if (op === 0x31) {
        this.controls.push(JSON.parse(buf.subarray(1).toString('utf8')) as ControlMessage);
      }
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static connect(
    url: string,
    options: { origin?: string; autoAck?: boolean; ackDelayMs?: number } = {},
  ): Promise<TerminalClient> {
    const ws = new WebSocket(url, { headers: options.origin ? { Origin: options.origin } : {} });
    const client = new TerminalClient(ws, { autoAck: options.autoAck ?? true, ackDelayMs: options.ackDelayMs ?? 0 });
    return new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new UpgradeRefused(res.statusCode ?? 0)));
      ws.once('error', reject);
    }).then(async () => {
      // Like the web app, start once the server has said hello.
      await client.waitFor((c) => c.controls.some((m) => m.type === 'hello'), 'hello', 10_000);
      return client;
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private scheduleAck(): void {
    const send = () => this.ack(this.outputBytes - this.acked);
    if (this.opts.ackDelayMs > 0) setTimeout(send, this.opts.ackDelayMs);
    else send();
  }

  /** Tells the server `n` more output bytes were processed. */
  ack(n: number): void {
    if (n <= 0 || this.ws.readyState !== WebSocket.OPEN) return;
    this.acked += n;
    this.ws.send(Buffer.concat([Buffer.from('2'), Buffer.from(String(n))]));
  }

  ackAll(): void {
    this.ack(this.outputBytes - this.acked);
  }

  text(): string {
    return Buffer.concat(this.output).toString('utf8');
  }

  /** The output without escape sequences (colours, modes, titles), as a person reads it. */
  plain(): string {
    return stripAnsi(this.text());
  }

  type(text: string): void {
    this.ws.send(Buffer.concat([Buffer.from('0'), Buffer.from(text)]));
  }

  resize(cols: number, rows: number): void {
    this.ws.send(Buffer.concat([Buffer.from('1'), Buffer.from(JSON.stringify({ cols, rows }))]));
  }

  sendRaw(data: Buffer | string): void {
    this.ws.send(typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Waits until `predicate` holds, failing with what was seen so far. */
  async waitFor(predicate: (c: TerminalClient) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        const tail = this.text().slice(-600);
        throw new Error(
          `${this.closed ? `connection closed (${this.closed.code} ${this.closed.reason})` : `timed out after ${timeoutMs} ms`} waiting for ${what}; last output: ${JSON.stringify(tail)}; controls: ${JSON.stringify(this.controls.slice(-5))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for text as a person would read it (escape sequences stripped). */
  waitForText(pattern: string | RegExp, timeoutMs?: number): Promise<void> {
    const test = (s: string) => (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s));
    return this.waitFor((c) => test(c.plain()), `output matching ${String(pattern)}`, timeoutMs);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
