/**
 * Reads a terminal attachment the way a user does: everything it shows (history, then
 * live output), searched for patterns in order. Each `expect` looks only after the end
 * of the previous match, so "the prompt came back" means a new prompt.
 */
import type { TerminalCloseInfo, TerminalStream, TtyAttachment } from '../../server/sandbox/driver.js';

/** A bash prompt such as `candidate@opslab:/workspace$ ` (escape codes and CRs removed). */
export const PROMPT = /[\w.-]+@[\w.-]+:[^\n]*?[$#] /;

const DEFAULT_TIMEOUT_MS = 15_000;
// CSI, OSC and two-byte escapes; an incomplete one at the very end stays until it completes.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** Terminal bytes as plain text: UTF-8, without escape sequences and carriage returns. */
export function plainText(data: Buffer): string {
  return data.toString('utf8').replace(ANSI, '').replace(/\r/g, '');
}

export class TerminalReader {
  readonly stream: TerminalStream;
  /** Absolute offset of the first byte this reader holds (the history's offset). */
  readonly startOffset: number;
  /** Number of bytes of the history; everything after came live. */
  readonly historyLength: number;
  private readonly chunks: Buffer[] = [];
  private length = 0;
  private cursor = 0;
  private closeInfo: TerminalCloseInfo | undefined;
  private readonly wakers = new Set<() => void>();

  constructor(attachment: TtyAttachment) {
    this.stream = attachment.stream;
    this.startOffset = attachment.history.offset;
    this.historyLength = attachment.history.data.length;
    this.append(attachment.history.data);
    this.stream.onData((chunk) => this.append(chunk));
    this.stream.onClose((info) => {
      this.closeInfo = info;
      this.wake();
    });
  }

  /** Everything received so far (history and live). */
  get bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }

  /** Absolute offset just past the last byte received. */
  get endOffset(): number {
    return this.startOffset + this.length;
  }

  get closed(): TerminalCloseInfo | undefined {
    return this.closeInfo;
  }

  /** Types a line, as Enter does. */
  sendLine(line: string): void {
    this.stream.write(`${line}\r`);
  }

  /** Waits until `pattern` appears after the previous match; returns the match. */
  async expect(pattern: RegExp | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RegExpExecArray> {
    const re = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : new RegExp(pattern.source, pattern.flags.replace('g', ''));
    const found = await this.waitUntil(() => {
      const rest = plainText(this.bytes).slice(this.cursor);
      const match = re.exec(rest);
      if (match === null) return undefined;
      this.cursor += match.index + match[0].length;
      return match;
    }, timeoutMs);
    if (found === undefined) {
      const seen = plainText(this.bytes).slice(this.cursor);
      throw new Error(
        `terminal: no ${String(re)} within ${timeoutMs} ms${this.closeInfo ? ` (stream closed: ${this.closeInfo.reason})` : ''}; ` +
          `text since the last match (${seen.length} chars): ${JSON.stringify(seen.length > 3000 ? `…${seen.slice(-3000)}` : seen)}`,
      );
    }
    return found;
  }

  /** Waits for the attachment to end by itself. */
  async expectClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<TerminalCloseInfo> {
    const info = await this.waitUntil(() => this.closeInfo, timeoutMs);
    if (info === undefined) throw new Error(`terminal: the stream did not report its end within ${timeoutMs} ms`);
    return info;
  }

  private append(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.length += chunk.length;
    this.wake();
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  private waitUntil<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const attempt = (): void => {
        const value = check();
        if (value === undefined) return;
        done(value);
      };
      const done = (value: T | undefined): void => {
        clearTimeout(timer);
        this.wakers.delete(attempt);
        resolve(value);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.wakers.add(attempt);
      attempt();
    });
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Joins what two attachments saw into one byte sequence by absolute offsets, checking
 * that the second starts no later than the first ended (nothing lost) and that bytes both
 * saw are the same (nothing changed or doubled).
 */
export function joinByOffset(first: TerminalReader, second: TerminalReader): Buffer {
  const a = first.bytes;
  const b = second.bytes;
  if (second.startOffset > first.endOffset) {
    throw new Error(`gap: second attachment starts at ${second.startOffset}, first ended at ${first.endOffset}`);
  }
  if (second.startOffset < first.startOffset) {
    throw new Error(`second attachment starts at ${second.startOffset}, before the first (${first.startOffset})`);
  }
  const overlap = first.endOffset - second.startOffset;
  const fromA = a.subarray(second.startOffset - first.startOffset);
  const fromB = b.subarray(0, Math.min(overlap, b.length));
  if (!fromA.subarray(0, fromB.length).equals(fromB)) {
    throw new Error('the attachments disagree about the bytes both saw');
  }
  return Buffer.concat([a, b.subarray(Math.min(overlap, b.length))]);
}
