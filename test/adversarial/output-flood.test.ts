/**
 * A candidate who prints without end (`yes`): every byte still reaches the terminal in
 * order, the shell answers afterwards, and what the session keeps on the host's disk stays
 * bounded: the sandbox's output log (old blocks punched out) and the server's recording
 * (capped, then pictures of the screen).
 */
import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { TTY_LOG_KEEP_BYTES, TTY_LOG_MAX_BEHIND_BYTES } from '../../server/sandbox/hardening.js';
import { OP_ACK, OP_INPUT, OP_OUTPUT } from '../../server/terminal/protocol.js';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, recordingOf, ticketFor, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import { stripAnsi } from '../helpers/terminal-client.js';
import { attack } from './row.js';

const FLOOD_SECONDS = 12;
const RECORDING_MAX_MB = 4;
const MB = 1024 * 1024;

/**
 * A candidate's terminal that acks every output frame as it arrives and keeps only
 * counts and the text's tail (a flood is hundreds of MB): checks that `yes` lines arrive
 * whole and in order.
 */
class CountingTerminal {
  bytes = 0;
  tail = '';
  /** Output that is not a `y` line, once the flood started (a reordered or cut chunk shows here). */
  strayLines = 0;
  private carry = '';
  private flooding = false;
  private floodSeen = false;
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      if (data[0] !== OP_OUTPUT) return;
      const text = data.subarray(1).toString('latin1');
      this.bytes += data.length - 1;
      ws.send(Buffer.concat([Buffer.from([OP_ACK]), Buffer.from(String(data.length - 1))]));
      this.tail = (this.tail + text).slice(-4096);
      if (this.flooding) this.countStray(text);
      else if (!this.floodSeen && this.tail.includes('y\r\ny\r\n')) {
        this.flooding = this.floodSeen = true;
        this.carry = this.tail.slice(this.tail.lastIndexOf('\r\n') + 2);
      }
    });
  }

  static async open(url: string): Promise<CountingTerminal> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    return new CountingTerminal(ws);
  }

  type(text: string): void {
    this.ws.send(Buffer.concat([Buffer.from([OP_INPUT]), Buffer.from(text)]));
  }

  async waitFor(text: string, timeoutMs: number): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !stripAnsi(this.tail).includes(text); ) {
      if (Date.now() > deadline) throw new Error(`"${text}" did not arrive in ${timeoutMs} ms (${this.bytes} bytes so far)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.ws.close();
  }

  private countStray(text: string): void {
    const lines = (this.carry + text).split('\r\n');
    this.carry = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('flood-done')) {
        this.flooding = false; // the prompt and later commands follow
        return;
      }
      if (line !== 'y') this.strayLines++;
    }
  }
}

describe('a candidate who prints without end', () => {
  let server: ServerProcess;
  let session: CreatedSession | undefined;
  const docker = new Docker();

  beforeAll(async () => {
    server = await ServerProcess.start({ OPSLAB_RECORDING_MAX_MB: String(RECORDING_MAX_MB) });
  });

  afterAll(async () => {
    if (session) await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
    await server?.stop();
  });

  attack(
    'sandbox',
    `yes for ${FLOOD_SECONDS} s in the terminal (recording cap set to ${RECORDING_MAX_MB} MB)`,
    `every line reaches the terminal in order; the shell answers after; on the host the output log holds what the server has not read yet (at most ${TTY_LOG_MAX_BEHIND_BYTES / MB} MB), then ${TTY_LOG_KEEP_BYTES / MB} MB; the recording its cap plus screen pictures, the last one showing the end`,
    async () => {
      session = await createSession(server);
      await waitForState(server, session.id, 'ready');
      const term = await CountingTerminal.open(
        `${server.wsUrl}/api/sessions/${session.id}/terminal?ticket=${await ticketFor(server, session.id, session.candidateToken)}`,
      );
      const volume = await docker.getVolume(`opslab-${session.id}-tty`).inspect();
      const log = path.join(volume.Mountpoint, 'tty.log');
      const onDisk = () => Number(execFileSync('du', ['-k', log], { encoding: 'utf8' }).split('\t')[0]) * 1024;
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, onDisk());
      }, 500);
      try {
        await term.waitFor('candidate@opslab', 15_000);
        term.type(`timeout ${FLOOD_SECONDS} yes; echo "flood-done-$((6*7))"\r`);
        await term.waitFor('flood-done-42', (FLOOD_SECONDS + 120) * 1000);
        clearInterval(sampler);
        term.type('echo "still-here-$((7*11))"\r');
        await term.waitFor('still-here-77', 15_000);
        expect(term.strayLines, 'lines that are not "y" in the flood').toBe(0);

        // A picture is due 2 s after the last output, then a 1 s flush; the log is trimmed
        // once a second. Waited for, not slept on: a loaded machine takes longer.
        const sessionId = session.id;
        await expect
          .poll(async () => {
            const pictures = (await recordingOf(server, sessionId)).events.filter((e) => e[1] === 'o' && e[2].startsWith('\x1b[H\x1b[2J'));
            return stripAnsi(pictures.at(-1)?.[2] ?? '');
          }, { timeout: 30_000, interval: 500 })
          .toContain('still-here-77');
        await expect.poll(() => onDisk(), { timeout: 15_000, interval: 500 }).toBeLessThanOrEqual(TTY_LOG_KEEP_BYTES + 2 * MB);

        // The sandbox's output log: its length counts every byte, its blocks on disk only
        // what the server has not read yet and the last part (all read by now).
        const logical = (await stat(log)).size;
        const settled = onDisk();
        const perSecond = term.bytes / FLOOD_SECONDS;
        expect(logical, 'the flood outgrew the kept part of the log (else this row proves nothing)').toBeGreaterThan(TTY_LOG_KEEP_BYTES + 2 * MB);
        expect(settled).toBeLessThanOrEqual(TTY_LOG_KEEP_BYTES + 2 * MB);
        expect(peak).toBeLessThanOrEqual(TTY_LOG_MAX_BEHIND_BYTES + 2 * perSecond);

        // The recording: capped, marked, then pictures; the last picture shows the end.
        const { events } = await recordingOf(server, session.id);
        const castBytes = (await stat(path.join(server.dataDir, 'recordings', `${session.id}.cast`))).size;
        const markers = events.filter((e) => e[1] === 'm');
        const pictures = events.filter((e) => e[1] === 'o' && e[2].startsWith('\x1b[H\x1b[2J'));
        expect(markers.map((e) => e[2])).toEqual([`recording capped at ${RECORDING_MAX_MB} MB: from here on, a picture of the screen every few seconds`]);
        expect(pictures.length).toBeGreaterThan(0);
        expect(stripAnsi(pictures.at(-1)![2])).toContain('still-here-77');
        expect(castBytes).toBeLessThan(RECORDING_MAX_MB * MB + pictures.length * 64 * 1024);
        return (
          `${(term.bytes / MB).toFixed(0)} MB of y lines, all in order; shell answered; ` +
          `output log ${(logical / MB).toFixed(0)} MB long, on disk at most ${(peak / MB).toFixed(0)} MB during it and ${(settled / MB).toFixed(1)} MB after; ` +
          `recording ${(castBytes / MB).toFixed(1)} MB (${pictures.length} screen pictures after the cap)`
        );
      } finally {
        clearInterval(sampler);
        term.close();
      }
    },
    (FLOOD_SECONDS + 200) * 1000,
  );
});
