/**
 * The terminal WebSocket, as docs/openapi.yaml describes it: binary frames whose first
 * byte is an ASCII opcode ('0' data, '1' resize/control JSON, '2' ack).
 *
 * A connection asks for a fresh single-use ticket every time it (re)connects, so a
 * dropped network or a server restart only costs a moment: the server replays the
 * current screen after `hello` and the shell is the same. It stops for good when the
 * session is over (a `state` message, or the ticket being refused for that reason).
 */
import { isApiError } from '../api/http.js';
import type { SessionState } from '../api/types.js';

export type ConnectionStatus =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected' }
  | { kind: 'waiting'; retryInMs: number; attempt: number; reason: string }
  | { kind: 'closed'; reason: 'session-over' | 'refused' | 'stopped'; state?: SessionState; error?: unknown };

export interface HelloMessage {
  type: 'hello';
  role: 'candidate' | 'observer';
  session: string;
  cols: number;
  rows: number;
}

export type ControlMessage =
  | HelloMessage
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'state'; state: SessionState; error?: string }
  | { type: 'session'; expiresAt: string }
  | { type: 'error'; code: string; message: string }
  | { type: 'exit'; reason?: string; code?: number };

export interface TerminalConnectionOptions {
  sessionId: string;
  /** A fresh ticket; rejects with an ApiError when the server refuses one. */
  issueTicket(): Promise<string>;
  onHello(hello: HelloMessage): void;
  /** Output bytes; call `processed()` once they are on screen (flow control). */
  onOutput(data: Uint8Array, processed: () => void): void;
  onControl?(message: ControlMessage): void;
  onStatus(status: ConnectionStatus): void;
}

const OP_DATA = 0x30; // '0'
const OP_CONTROL = 0x31; // '1'
const OP_ACK = 0x32; // '2'
const ACK_BATCH_BYTES = 32 * 1024;
const ACK_DELAY_MS = 15;
const BACKOFF_MS = [500, 1000, 2000, 3000, 5000];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The session is over, so asking again will not help. */
function isFinalRefusal(e: unknown): boolean {
  if (!isApiError(e)) return false;
  return e.status === 401 || e.status === 403 || e.status === 404 || e.code === 'WRONG_STATE';
}

export class TerminalConnection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private ackPending = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private generation = 0;
  private sessionOver: SessionState | null = null;
  private readonly onOnline = () => this.retryNow();

  constructor(private readonly options: TerminalConnectionOptions) {}

  start(): void {
    window.addEventListener('online', this.onOnline);
    void this.connect();
  }

  /** Types `text` into the shell (candidate connections only). */
  send(text: string): void {
    this.sendFrame(OP_DATA, encoder.encode(text));
  }

  resize(cols: number, rows: number): void {
    this.sendFrame(OP_CONTROL, encoder.encode(JSON.stringify({ cols, rows })));
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Reconnect at once (after `online`, or the user clicking "reconnect now"). */
  retryNow(): void {
    if (this.stopped || this.ws) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'page closed');
    this.options.onStatus({ kind: 'closed', reason: 'stopped' });
  }

  private sendFrame(op: number, payload: Uint8Array): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const frame = new Uint8Array(payload.length + 1);
    frame[0] = op;
    frame.set(payload, 1);
    ws.send(frame);
  }

  private ack(bytes: number, generation: number): void {
    if (generation !== this.generation) return; // from a connection that is gone
    this.ackPending += bytes;
    if (this.ackPending >= ACK_BATCH_BYTES) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
  }

  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.ackPending <= 0) return;
    const n = this.ackPending;
    this.ackPending = 0;
    this.sendFrame(OP_ACK, encoder.encode(String(n)));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.attempt += 1;
    this.options.onStatus({ kind: 'connecting', attempt: this.attempt });
    let ticket: string;
    try {
      ticket = await this.options.issueTicket();
    } catch (e) {
      if (this.stopped) return;
      if (isFinalRefusal(e)) {
        this.options.onStatus({ kind: 'closed', reason: 'refused', error: e });
        return;
      }
      this.scheduleRetry(isApiError(e) && e.code === 'NETWORK' ? 'offline' : 'no-ticket');
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/api/sessions/${encodeURIComponent(this.options.sessionId)}/terminal?ticket=${encodeURIComponent(ticket)}`;
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const generation = ++this.generation;
    this.ackPending = 0;
    this.ws = ws;
    let greeted = false;

    ws.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
      if (generation !== this.generation) return;
      const bytes = typeof event.data === 'string' ? encoder.encode(event.data) : new Uint8Array(event.data);
      const op = bytes[0];
      if (op === OP_DATA) {
        const payload = bytes.subarray(1);
        this.options.onOutput(payload, () => this.ack(payload.length, generation));
      } else if (op === OP_CONTROL) {
        let message: ControlMessage;
        try {
          message = JSON.parse(decoder.decode(bytes.subarray(1))) as ControlMessage;
        } catch {
          return;
        }
        if (message.type === 'hello') {
          greeted = true;
          this.attempt = 0;
          this.options.onHello(message);
          this.options.onStatus({ kind: 'connected' });
        } else if (message.type === 'state' && message.state !== 'starting' && message.state !== 'ready') {
          this.sessionOver = message.state;
        }
        this.options.onControl?.(message);
      }
    };
    ws.onclose = () => {
      if (generation !== this.generation || this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (this.sessionOver) {
        this.options.onStatus({ kind: 'closed', reason: 'session-over', state: this.sessionOver });
        return;
      }
      // Not greeted: the upgrade was refused (starting, over, or a hiccup); a new ticket tells.
      this.scheduleRetry(greeted ? 'dropped' : 'refused');
    };
  }

  private scheduleRetry(reason: string): void {
    const retryInMs = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length) - 1] ?? 5000;
    this.options.onStatus({ kind: 'waiting', retryInMs, attempt: this.attempt, reason });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, retryInMs);
  }
}
