/**
 * The server is killed with SIGKILL mid-session and started again on the same data:
 * the session is still ready, the same shell still has its variables, a reconnecting
 * terminal gets the screen, and the recording holds what the shell printed while no
 * server was running, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerProcess } from '../helpers/server-process.js';
import { serverWithSession, openTerminal, PROMPT, type CreatedSession } from '../helpers/session-flow.js';
import { stripAnsi } from '../helpers/terminal-client.js';

describe('a server restart', () => {
  let server: ServerProcess;
  let session: CreatedSession;

  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server, session, close } = await serverWithSession());
  });

  afterAll(async () => {
    await close();
  });

  it('keeps the session, the shell and its variables across SIGKILL, and records output made while down', async () => {
    const before = await openTerminal(server, session.id, session.candidateToken);
    await before.waitForText(PROMPT);
    before.type('export SECRET_NUMBER=$((6*7)); echo "set-$SECRET_NUMBER"; (sleep 2; echo "while-down-$((7*11))") &\r');
    await before.waitForText('set-42');

    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2500)); // the background job prints while no server runs
    await server.spawn();

    const s = await server.api<{ state: string }>('GET', `/api/sessions/${session.id}`);
    expect(s.body.state).toBe('ready');

    const after = await openTerminal(server, session.id, session.candidateToken);
    await after.waitFor((c) => c.output.length > 0, 'the screen snapshot');
    const screen = stripAnsi(after.output[0]?.toString('utf8') ?? '');
    expect(screen).toContain('set-42');
    expect(screen).toContain('while-down-77');
    after.type('\recho "again-$SECRET_NUMBER-$$"\r');
    await after.waitForText('again-42-');

    // The recording goes on: both sides of the restart and the output made in between, once each.
    await new Promise((r) => setTimeout(r, 1500));
    const rec = await server.api<string>('GET', `/api/sessions/${session.id}/recording`);
    const events = String(rec.body)
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string]);
    const out = stripAnsi(events.filter((e) => e[1] === 'o').map((e) => e[2]).join(''));
    expect(out).toContain('set-42');
    expect(out.match(/while-down-77/g)?.length).toBe(1);
    expect(out).toContain('again-42-');
    const times = events.map((e) => e[0]);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    await after.close();
  });
});
