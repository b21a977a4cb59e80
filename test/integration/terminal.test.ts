/**
 * The core promise, end to end against the real server and the real engine: a session
 * becomes ready, the candidate's shell answers over the WebSocket, an observer sees the
 * same screen and cannot type, a reconnect gets the current screen and the same shell,
 * heavy output reaches fast and slow viewers complete and in order, and ending the
 * session leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerProcess } from '../helpers/server-process.js';
import { serverWithSession, engineResources, openTerminal, PROMPT, recordingOf, type CreatedSession } from '../helpers/session-flow.js';
import { stripAnsi, type TerminalClient } from '../helpers/terminal-client.js';

/** Lines that are only a number, in the order they appear. */
function numberLines(raw: string): number[] {
  return stripAnsi(raw)
    .split(/\r?\n/)
    .map((l) => l.replace(/\r/g, ''))
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

function expectSequence(numbers: number[], n: number): void {
  expect(numbers.length).toBe(n);
  const firstWrong = numbers.findIndex((v, i) => v !== i + 1);
  expect(firstWrong, `first out-of-order line at index ${firstWrong}`).toBe(-1);
}

describe('a live session over the terminal WebSocket', () => {
  let server: ServerProcess;
  let session: CreatedSession;
  const open: TerminalClient[] = [];
  const term = async (token: string, options?: Parameters<typeof openTerminal>[3]) => {
    const c = await openTerminal(server, session.id, token, options);
    open.push(c);
    return c;
  };

  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server, session, close } = await serverWithSession());
  });

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await close();
  });

  it('echoes what the candidate types, in a real shell in the starter repository', async () => {
    const c = await term(session.candidateToken);
    expect(c.controls[0]).toMatchObject({ type: 'hello', role: 'candidate', session: session.id });
    await c.waitForText(PROMPT);
    c.type('echo "answer=$((6*7))"; git log --format=%s\r');
    await c.waitForText('answer=42');
    await c.waitForText('Start of the exercise');
  });

  it("shows an observer the same screen live, and ignores the observer's keystrokes", async () => {
    const c = await term(session.candidateToken);
    const o = await term(server.adminToken);
    expect(o.controls[0]).toMatchObject({ type: 'hello', role: 'observer' });
    await c.waitForText(PROMPT);
    c.type('echo "live-$((1000+337))"\r');
    await c.waitForText('live-1337');
    await o.waitForText('live-1337');

    o.type('touch /workspace/observer-was-here; echo observer-typed\r');
    await o.waitFor((x) => x.controls.some((m) => m.type === 'error' && m.code === 'READ_ONLY'), 'READ_ONLY error');
    c.type('ls /workspace; echo "ls-$((2+2))-done"\r');
    await c.waitForText('ls-4-done');
    expect(c.text()).not.toContain('observer-was-here');
    expect(c.text()).not.toContain('observer-typed');
  });

  it('gives a reconnecting client the current screen first, and the same shell with its jobs', async () => {
    const first = await term(session.candidateToken);
    await first.waitForText(PROMPT);
    first.type('export MARK=keep-$((40+2)); (while :; do date +%s%N > /tmp/beat; sleep 0.2; done) & clear; echo "before-$((9*9))"\r');
    await first.waitForText('before-81');
    await first.close();

    const again = await term(session.candidateToken);
    // The first output frame is the current screen: it already shows what was printed before.
    await again.waitFor((c) => c.output.length > 0, 'the screen snapshot');
    expect(again.output[0]?.toString('utf8')).toContain('before-81');
    again.type('echo "mark=$MARK"; jobs; a=$(cat /tmp/beat); sleep 0.6; b=$(cat /tmp/beat); [ "$a" != "$b" ] && echo beating\r');
    await again.waitForText('mark=keep-42');
    await again.waitForText(/\[1\]\+\s+Running\s+\( while :/);
    await again.waitForText(/^beating\r?$/m);
    again.type('kill %1\r');
  });

  it('delivers seq 1 200000 completely and in order to a fast and a stalled viewer, while the shell stays responsive', async () => {
    const fast = await term(session.candidateToken);
    const slow = await term(server.adminToken, { autoAck: false }); // acks nothing until told to
    const third = await term(server.adminToken);
    await fast.waitForText(PROMPT);
    fast.type('clear; seq 1 200000; echo "seq-$((100*2))-finished"\r');
    await fast.waitForText('seq-200-finished', 60_000);

    // The stalled viewer has not got everything, yet the shell answers the third viewer.
    expect(slow.text()).not.toContain('seq-200-finished');
    fast.type('echo "still-$((3*111))"\r');
    await third.waitForText('still-333', 5_000);

    expectSequence(numberLines(fast.text()), 200000);
    // The stalled viewer catches up once it processes what it has: nothing lost or reordered.
    const until = Date.now() + 60_000;
    while (!slow.text().includes('still-333') && Date.now() < until) {
      slow.ackAll();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(slow.text()).toContain('still-333');
    expectSequence(numberLines(slow.text()), 200000);
    expectSequence(numberLines(third.text()), 200000);

    // The recording (flushed at least every second) holds every byte of it.
    await new Promise((r) => setTimeout(r, 1500));
    const rec = await recordingOf(server, session.id);
    expect(rec.status).toBe(200);
    expect(rec.contentType).toContain('application/x-asciicast');
    expect(rec.header).toMatchObject({ version: 2 });
    expectSequence(numberLines(rec.text), 200000);
  });

  it('ends the session: the terminal closes, the invite stops working, and no container, network or volume is left', async () => {
    const c = await term(session.candidateToken);
    expect((await engineResources(session.id)).length).toBeGreaterThan(0);
    const r = await server.api<{ state: string; endedAt: string }>('POST', `/api/sessions/${session.id}/end`, {
      token: session.candidateToken,
    });
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('ended');
    expect(r.body.endedAt).toBeTruthy();
    await c.waitFor((x) => x.closed !== null, 'the terminal to close');
    expect(await engineResources(session.id)).toEqual([]);
    const denied = await server.api('GET', `/api/sessions/${session.id}`, { token: session.candidateToken });
    expect(denied.status).toBe(401);
    const again = await server.api<{ error: { code: string } }>('POST', `/api/sessions/${session.id}/end`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('WRONG_STATE');
  });
});
