/**
 * Load: 30 sessions at once, each candidate typing and their shell printing for 60 s.
 * Every client stream and every recording must hold each shell's output complete and in
 * order, exactly once, and the server's memory must stay bounded.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, openTerminal, PROMPT, recordingOf, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import type { TerminalClient } from '../helpers/terminal-client.js';
import { stripAnsi } from '../helpers/terminal-client.js';
import { attack } from './row.js';

const SESSIONS = 30;
const SECONDS = 60;
const LINES = SECONDS * 20; // one line every 50 ms
const TYPED = SECONDS / 2; // one command typed every 2 s
/** The server holds a screen and a queue per viewer; 30 busy sessions must not take more. */
const MAX_RSS_MB = 700;

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** Numbers of the `tag-N` tokens in `text`, in the order they appear. */
function tokens(text: string, tag: string): number[] {
  return [...text.matchAll(new RegExp(`${tag}-(\\d+)\\r?\\n`, 'g'))].map((m) => Number(m[1]));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('load', () => {
  let server: ServerProcess;
  const sessions: CreatedSession[] = [];
  const terms: TerminalClient[] = [];

  beforeAll(async () => {
    server = await ServerProcess.start({ OPSLAB_SESSION_CREATE_PER_MINUTE: '100', OPSLAB_SESSION_MAX_LIVE: '40', OPSLAB_LOG_LEVEL: 'warn' });
    for (let i = 0; i < SESSIONS; i++) sessions.push(await createSession(server, 'hello', `Load ${i}`));
    for (const s of sessions) await waitForState(server, s.id, 'ready', 240_000);
    for (const s of sessions) terms.push(await openTerminal(server, s.id, s.candidateToken));
    for (const t of terms) await t.waitForText(PROMPT, 30_000);
  }, 400_000);

  afterAll(async () => {
    for (const t of terms) await t.close().catch(() => undefined);
    for (const s of sessions) await server.api('POST', `/api/sessions/${s.id}/end`).catch(() => undefined);
    await server?.stop();
  }, 300_000);

  attack(
    'load',
    `${SESSIONS} sessions, each typing and printing for ${SECONDS} s`,
    `every client stream and recording complete and in order; server RSS under ${MAX_RSS_MB} MB`,
    async () => {
      const pid = server.child?.pid;
      if (!pid) throw new Error('no server process');
      let peak = rssMb(pid);
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 500);
      try {
        for (const t of terms) t.type(`(for i in $(seq 1 ${LINES}); do echo "out-$i"; sleep 0.05; done; echo "finished-$((6*7))") &\r`);
        for (let k = 1; k <= TYPED; k++) {
          await new Promise((r) => setTimeout(r, 2_000));
          // The output says typed-(3k); the echo of what was typed says $((k*3)), so only the output matches.
          for (const t of terms) t.type(`echo "typed-$((${k}*3))"\r`);
        }
        // finished-42 is only in the output: the typed command says $((6*7)).
        for (const t of terms) await t.waitFor((c) => /finished-42/.test(c.plain()), 'the printing to finish', 60_000);
        for (const t of terms) await t.waitFor((c) => tokens(c.plain(), 'typed').length >= TYPED, 'the typed commands', 30_000);
      } finally {
        clearInterval(sampler);
      }

      for (const [i, t] of terms.entries()) {
        const plain = t.plain();
        expect(tokens(plain, 'out'), `session ${i}: client stream`).toEqual(range(LINES));
        expect(tokens(plain, 'typed'), `session ${i}: typed commands`).toEqual(range(TYPED).map((k) => k * 3));
      }
      await new Promise((r) => setTimeout(r, 2_000)); // the recorder flushes every second
      let recorded = 0;
      for (const [i, s] of sessions.entries()) {
        const out = stripAnsi((await recordingOf(server, s.id)).text);
        expect(tokens(out, 'out'), `session ${i}: recording`).toEqual(range(LINES));
        recorded += LINES;
      }
      expect(peak).toBeLessThan(MAX_RSS_MB);
      return `${SESSIONS} × ${LINES} lines and ${TYPED} commands: all streams and recordings exact (${recorded} lines checked); server peak RSS ${peak.toFixed(0)} MB`;
    },
    (SECONDS + 240) * 1000,
  );
});
