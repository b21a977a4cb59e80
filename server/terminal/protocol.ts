/**
 * The terminal WebSocket's binary frames (the ttyd scheme): the first byte is an ASCII
 * opcode, the rest is the payload. Pure functions only, so both the hub and tests (and a
 * Node client) can use them; decoding never throws, it returns a typed error instead.
 *
 * Acks (client opcode '2') are incremental: each says how many more bytes of output-frame
 * payload (the bytes after the opcode) the client has processed since its previous ack.
 */
import type { TermSize } from '../sandbox/driver.js';

/** Client → server opcodes. */
export const OP_INPUT = 0x30; // '0'
export const OP_RESIZE = 0x31; // '1'
export const OP_ACK = 0x32; // '2'
/** Server → client opcodes. */
export const OP_OUTPUT = 0x30; // '0'
export const OP_CONTROL = 0x31; // '1'

export const MAX_COLS = 1000;
export const MAX_ROWS = 500;
/** Control and resize payloads are tiny; anything larger is hostile or broken. */
const MAX_JSON_PAYLOAD = 1024;
/** An ack is a byte count; 15 digits is far beyond anything a session will ever send. */
const MAX_ACK_DIGITS = 15;

/** WebSocket close codes the hub uses (4xxx are application-defined). */
export const CLOSE_CODES = {
  /** The hub closed (server shutdown, terminal detached). */
  GOING_AWAY: 1001,
  /** The viewer could not be served any more (e.g. its snapshot failed). */
  INTERNAL: 1011,
  /** The session ended; the terminal will not come back. */
  SESSION_ENDED: 4000,
  /** The hub already has as many viewers as it allows. */
  TOO_MANY_VIEWERS: 4001,
} as const;

export type ViewerRole = 'candidate' | 'observer';

export type ClientFrame =
  | { type: 'input'; data: Buffer }
  | { type: 'resize'; size: TermSize }
  | { type: 'ack'; bytes: number };

export type FrameErrorCode = 'BAD_FRAME';
export interface FrameError {
  code: FrameErrorCode;
  message: string;
}

export type Decoded<T> = { ok: true; frame: T } | { ok: false; error: FrameError };

export type ControlErrorCode = 'READ_ONLY' | 'BAD_FRAME' | 'INTERNAL';

export type ControlMessage =
  | { type: 'hello'; role: ViewerRole; session: string; cols: number; rows: number }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'state'; state: string }
  | { type: 'error'; code: ControlErrorCode; message: string }
  | { type: 'exit'; reason: string; code?: number }
  /** The session's time changed (an interviewer extended it): the new end, ISO 8601. */
  | { type: 'session'; expiresAt: string };

export type ServerFrame = { type: 'output'; data: Buffer } | { type: 'control'; message: ControlMessage };

const bad = (message: string): { ok: false; error: FrameError } => ({ ok: false, error: { code: 'BAD_FRAME', message } });

/** True for a size the hub accepts: integers, 1..1000 cols, 1..500 rows. */
export function isValidSize(value: unknown): value is TermSize {
  if (typeof value !== 'object' || value === null) return false;
  const { cols, rows } = value as Record<string, unknown>;
  return (
    Number.isInteger(cols) && Number.isInteger(rows) &&
    (cols as number) >= 1 && (cols as number) <= MAX_COLS &&
    (rows as number) >= 1 && (rows as number) <= MAX_ROWS
  );
}

function parseJson(payload: Buffer): { ok: true; value: unknown } | { ok: false } {
  if (payload.length > MAX_JSON_PAYLOAD) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Decodes one client → server frame. */
export function decodeClientFrame(frame: Buffer): Decoded<ClientFrame> {
  if (frame.length === 0) return bad('empty frame');
  const payload = frame.subarray(1);
  switch (frame[0]) {
    case OP_INPUT:
      return { ok: true, frame: { type: 'input', data: payload } };
    case OP_RESIZE: {
      const parsed = parseJson(payload);
      if (!parsed.ok) return bad('resize payload is not JSON');
      if (!isValidSize(parsed.value)) return bad(`resize needs integer cols 1..${MAX_COLS} and rows 1..${MAX_ROWS}`);
      const { cols, rows } = parsed.value;
      return { ok: true, frame: { type: 'resize', size: { cols, rows } } };
    }
    case OP_ACK: {
      const text = payload.toString('latin1');
      if (text.length === 0 || text.length > MAX_ACK_DIGITS || !/^[0-9]+$/.test(text)) return bad('ack must be a decimal byte count');
      return { ok: true, frame: { type: 'ack', bytes: Number(text) } };
    }
    default:
      return bad('unknown opcode');
  }
}

/** An output frame from one or more chunks (one copy: the opcode has to go in front). */
export function encodeOutput(chunks: Buffer | readonly Buffer[]): Buffer {
  const list = Buffer.isBuffer(chunks) ? [chunks] : chunks;
  return Buffer.concat([Buffer.of(OP_OUTPUT), ...list]);
}

export function encodeControl(message: ControlMessage): Buffer {
  return Buffer.concat([Buffer.of(OP_CONTROL), Buffer.from(JSON.stringify(message), 'utf8')]);
}

// Client-side encoders: used by tests and by any Node client of the terminal socket.

export function encodeInput(data: Buffer | string): Buffer {
  return Buffer.concat([Buffer.of(OP_INPUT), Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')]);
}

export function encodeResize(size: TermSize): Buffer {
  return Buffer.concat([Buffer.of(OP_RESIZE), Buffer.from(JSON.stringify({ cols: size.cols, rows: size.rows }))]);
}

export function encodeAck(bytes: number): Buffer {
  return Buffer.concat([Buffer.of(OP_ACK), Buffer.from(String(Math.max(0, Math.floor(bytes))), 'latin1')]);
}

const CONTROL_TYPES = new Set(['hello', 'resize', 'state', 'error', 'exit']);

/** Decodes one server → client frame (the client side of the protocol). */
export function decodeServerFrame(frame: Buffer): Decoded<ServerFrame> {
  if (frame.length === 0) return bad('empty frame');
  const payload = frame.subarray(1);
  if (frame[0] === OP_OUTPUT) return { ok: true, frame: { type: 'output', data: payload } };
  if (frame[0] !== OP_CONTROL) return bad('unknown opcode');
  const parsed = parseJson(payload);
  if (!parsed.ok) return bad('control payload is not JSON');
  const value = parsed.value as { type?: unknown } | null;
  if (typeof value !== 'object' || value === null || typeof value.type !== 'string' || !CONTROL_TYPES.has(value.type)) {
    return bad('unknown control message');
  }
  return { ok: true, frame: { type: 'control', message: value as ControlMessage } };
}
