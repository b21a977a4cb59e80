import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { WebSocket } from 'ws';
import { pino } from 'pino';
import type { ViewerSocket } from '../../../server/terminal/hub.js';
import { TerminalHub } from '../../../server/terminal/hub.js';
import { encodeInput, encodeResize } from '../../../server/terminal/protocol.js';
import { FakeSocket, lineNumbers, numberedLines, range, readCast, render, sleep, startHub, waitFor, type HubFixture } from './fakes.js';

const SIZE = { cols: 40, rows: 10 };

describe('TerminalHub', () => {
  let fx: HubFixture | undefined;
  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });

  it('accepts a real ws WebSocket as a viewer socket', () => {
    expectTypeOf<WebSocket>().toExtend<ViewerSocket>();
  });

  it('sends hello, then the screen, then live output with nothing lost or repeated', async () => {
    fx = await startHub({ size: SIZE, history: { offset: 0, data: Buffer.from(numberedLines(0, 200)) } });
    fx.stream.emit(numberedLines(200, 499) + 'line 0004'); // the snapshot point falls inside a line
    const viewer = new FakeSocket({ autoAck: true });
    fx.hub.attach(viewer, 'observer');
    // Output arriving while the snapshot is being taken must follow it, not precede it.
    fx.stream.emit('99\r\n' + numberedLines(500, 800));
    expect(viewer.decoded().map((f) => f.type)).toEqual(['control']);
    for (let i = 800; i < 1500; i += 50) {
      fx.stream.emit(numberedLines(i, i + 50));
      await sleep(1);
    }
    await waitFor(() => viewer.output().toString().endsWith('line 001499\r\n'), 5000, 'live output');
    const frames = viewer.decoded();
    expect(frames[0]).toEqual({ type: 'control', message: { type: 'hello', role: 'observer', session: 'sess-1', cols: 40, rows: 10 } });
    expect(frames[1]?.type).toBe('output');
    expect(lineNumbers(await render(viewer.output(), SIZE))).toEqual(range(0, 1500));
  });

  it('completes a character split at the snapshot point instead of garbling it', async () => {
    fx = await startHub({ size: SIZE });
    const word = Buffer.from('naïve 😀');
    const cut = word.indexOf(Buffer.from('😀')) + 2; // inside the emoji
    fx.stream.emit(word.subarray(0, cut));
    const viewer = new FakeSocket({ autoAck: true });
    fx.hub.attach(viewer, 'observer');
    await sleep(20);
    fx.stream.emit(word.subarray(cut));
    fx.stream.emit('!');
    await waitFor(() => viewer.output().toString().endsWith('!'));
    expect(await render(viewer.output(), SIZE)).toEqual(['naïve 😀!']);
  });

  it('gives a late viewer the current screen, not the whole history', async () => {
    fx = await startHub({ size: SIZE, scrollback: 50 });
    fx.stream.emit(numberedLines(0, 5000));
    const late = new FakeSocket({ autoAck: true });
    fx.hub.attach(late, 'observer');
    fx.stream.emit(numberedLines(5000, 5010));
    await waitFor(() => late.output().toString().endsWith('line 005009\r\n'));
    // The snapshot: 50 lines of scrollback + 9 rows with text (the 10th holds the cursor);
    // then the 10 live lines.
    expect(lineNumbers(await render(late.output(), SIZE))).toEqual(range(4941, 5010));
  });

  it('writes candidate input to the shell and refuses observer input with READ_ONLY', async () => {
    fx = await startHub({ size: SIZE });
    const candidate = new FakeSocket({ autoAck: true });
    const observer = new FakeSocket({ autoAck: true });
    fx.hub.attach(candidate, 'candidate');
    fx.hub.attach(observer, 'observer');
    observer.clientSend(encodeInput('rm -rf /\r'));
    candidate.clientSend(encodeInput('ls\r'));
    expect(Buffer.concat(fx.stream.written).toString()).toBe('ls\r');
    expect(observer.controls()).toContainEqual(expect.objectContaining({ type: 'error', code: 'READ_ONLY' }));
    expect(candidate.controls().some((m) => m.type === 'error')).toBe(false);
  });

  it('answers a malformed frame with BAD_FRAME and keeps serving', async () => {
    fx = await startHub({ size: SIZE });
    const candidate = new FakeSocket({ autoAck: true });
    fx.hub.attach(candidate, 'candidate');
    candidate.clientSend(Buffer.from('1{"cols":99999,"rows":1}'));
    candidate.clientSend(Buffer.from('7'));
    candidate.clientSend(Buffer.alloc(0));
    candidate.clientSend(encodeInput('ok\r'));
    expect(candidate.controls().filter((m) => m.type === 'error').map((m) => m.type === 'error' && m.code)).toEqual(['BAD_FRAME', 'BAD_FRAME', 'BAD_FRAME']);
    expect(fx.stream.resizes).toEqual([]);
    expect(Buffer.concat(fx.stream.written).toString()).toBe('ok\r');
    expect(candidate.readyState).toBe(1);
  });

  it('resizes from the candidate: shell, every viewer, screen and recording; observers cannot', async () => {
    fx = await startHub({ size: SIZE });
    const candidate = new FakeSocket({ autoAck: true });
    const observer = new FakeSocket({ autoAck: true });
    fx.hub.attach(candidate, 'candidate');
    fx.hub.attach(observer, 'observer');
    observer.clientSend(encodeResize({ cols: 200, rows: 50 }));
    expect(fx.stream.resizes).toEqual([]);
    candidate.clientSend(encodeResize({ cols: 100, rows: 30 }));
    candidate.clientSend(encodeResize({ cols: 100, rows: 30 })); // unchanged: not repeated
    await sleep(0);
    expect(fx.stream.resizes).toEqual([{ cols: 100, rows: 30 }]);
    for (const s of [candidate, observer]) expect(s.controls().filter((m) => m.type === 'resize')).toEqual([{ type: 'resize', cols: 100, rows: 30 }]);
    expect(fx.hub.size).toEqual({ cols: 100, rows: 30 });
    const late = new FakeSocket();
    fx.hub.attach(late, 'observer');
    expect(late.controls()[0]).toMatchObject({ type: 'hello', cols: 100, rows: 30 });
    await fx.hub.close();
    expect((await readCast(fx.recordingPath)).events.filter((e) => e[1] === 'r').map((e) => e[2])).toEqual(['100x30']);
  });

  it('tells viewers and the owner when the shell stream ends by itself', async () => {
    fx = await startHub({ size: SIZE });
    const viewer = new FakeSocket({ autoAck: true });
    fx.hub.attach(viewer, 'candidate');
    fx.stream.emit('bye\r\n');
    fx.stream.end('container stopped');
    // The owner hears of it once the recording is complete on disk (it may re-attach to the same file).
    await waitFor(() => fx!.closedReasons.length > 0);
    expect(fx.closedReasons).toEqual(['container stopped']);
    expect((await readCast(fx.recordingPath)).text).toBe('bye\r\n');
    await waitFor(() => viewer.controls().some((m) => m.type === 'exit'));
    expect(viewer.controls().at(-1)).toEqual({ type: 'exit', reason: 'container stopped' });
    viewer.clientSend(encodeInput('x'));
    expect(fx.stream.written).toEqual([]);
  });

  it('close() detaches from the shell, closes every socket and flushes the recording', async () => {
    fx = await startHub({ size: SIZE });
    const a = new FakeSocket({ autoAck: true });
    const b = new FakeSocket();
    fx.hub.attach(a, 'candidate');
    fx.hub.attach(b, 'observer');
    fx.stream.emit('recorded\r\n');
    await fx.hub.close({ code: 4000, reason: 'session ended' });
    expect(fx.stream.closed).toBe(true);
    expect(a.closedWith).toEqual({ code: 4000, reason: 'session ended' });
    expect(b.closedWith).toEqual({ code: 4000, reason: 'session ended' });
    expect(fx.hub.stats.viewers).toBe(0);
    expect((await readCast(fx.recordingPath)).text).toBe('recorded\r\n');
    const after = new FakeSocket();
    expect(fx.hub.attach(after, 'observer')).toBe(false);
    expect(after.closedWith?.code).toBe(1001);
  });

  it('broadcasts state messages in order with output', async () => {
    fx = await startHub({ size: SIZE });
    const viewer = new FakeSocket({ autoAck: true });
    fx.hub.attach(viewer, 'observer');
    await sleep(20);
    fx.stream.emit('a');
    fx.hub.broadcastControl({ type: 'state', state: 'ended' });
    fx.stream.emit('b');
    const seq = viewer.decoded().slice(1).map((f) => (f.type === 'output' ? f.data.toString() : f.message.type));
    expect(seq).toEqual(['a', 'state', 'b']);
  });

  it('continues the recording after a restart with every byte exactly once', async () => {
    const all = Buffer.from(numberedLines(0, 3000) + 'ünïcödé ☃\r\n' + numberedLines(3000, 3100));
    const cutA = 30_001; // first server: recorded up to here
    const cutB = all.indexOf('ünï') + 1; // second attach: history ends inside the ü, past cutA
    expect(cutB).toBeGreaterThan(cutA);
    fx = await startHub({ size: SIZE, history: { offset: 0, data: all.subarray(0, 10_000) } });
    fx.stream.emit(all.subarray(10_000, cutA));
    const recordingPath = fx.recordingPath;
    await fx.hub.close(); // keeps the temp dir: the fixture's dispose() runs later
    const dir = fx.dir;
    const first = fx;
    // The server restarts; the driver's history now reaches past what was recorded.
    fx = await startHub({ size: SIZE, recordingPath, history: { offset: 0, data: all.subarray(0, cutB) } });
    fx.stream.emit(all.subarray(cutB));
    await fx.hub.close();
    const cast = await readCast(recordingPath);
    expect(cast.text).toBe(all.toString('utf8'));
    expect(dir).toBe(first.dir);
    await first.dispose();
  });

  it('once the recording is capped, records a picture of the screen while output flows, and a last one on close', async () => {
    fx = await startHub({ size: SIZE, recordingMaxBytes: 8_000, screenPictureMs: 50 });
    fx.stream.emit(numberedLines(0, 1000)); // 13 KB: past the cap
    await sleep(150);
    fx.stream.emit('the last words\r\n');
    await fx.hub.close();
    const cast = await readCast(fx.recordingPath);
    const pictures = cast.events.filter((e) => e[1] === 'o' && e[2].startsWith('\x1b[H\x1b[2J'));
    expect(cast.events.filter((e) => e[1] === 'm')).toHaveLength(1);
    expect(pictures.length).toBeGreaterThanOrEqual(2);
    // A picture is the visible screen only: the rows before the last 24 are not in it.
    expect(pictures[0]![2]).toContain('line 000999');
    expect(pictures[0]![2]).not.toContain('line 000900');
    expect(pictures.at(-1)![2]).toContain('the last words');
  });

  it('takes another picture for output that arrived while the last one waited for the parser', async () => {
    fx = await startHub({ size: SIZE, recordingMaxBytes: 8_000, screenPictureMs: 50 });
    // A screen slow to parse its backlog, as under load after a flood.
    const screen = (fx.hub as unknown as { screen: { snapshot: (o?: { scrollback?: number }) => Promise<string> } }).screen;
    const snapshot = screen.snapshot.bind(screen);
    screen.snapshot = async (o) => {
      const text = await snapshot(o);
      await sleep(300);
      return text;
    };
    fx.stream.emit(numberedLines(0, 1000)); // past the cap: a picture is due in 50 ms
    await sleep(120); // it was taken, and waits
    fx.stream.emit('the last words\r\n');
    // Without closing the session: the recording catches up by itself.
    const recording = fx.recordingPath;
    await expect
      .poll(async () => {
        const cast = await readCast(recording);
        return cast.events.filter((e) => e[1] === 'o' && e[2].startsWith('\x1b[H\x1b[2J')).at(-1)?.[2] ?? '';
      }, { timeout: 5_000, interval: 100 })
      .toContain('the last words');
  });

  it('records a gap honestly when the shell history no longer reaches the recorded offset', async () => {
    fx = await startHub({ size: SIZE });
    fx.stream.emit('early\r\n');
    const recordingPath = fx.recordingPath;
    await fx.hub.close();
    const first = fx;
    fx = await startHub({ size: SIZE, recordingPath, history: { offset: 1000, data: Buffer.from('later\r\n') } });
    fx.stream.emit('live\r\n');
    await fx.hub.close();
    expect((await readCast(recordingPath)).text).toBe('early\r\nlater\r\nlive\r\n');
    await first.dispose();
  });

  it('fails to start with SANDBOX_FAILED when the shell cannot be attached', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'opslab-term-'));
    try {
      await expect(
        TerminalHub.start({
          sessionId: 's',
          size: SIZE,
          recordingPath: join(dir, 't.cast'),
          logger: pino({ level: 'silent' }),
          open: () => Promise.reject(new Error('engine gone')),
        }),
      ).rejects.toMatchObject({ code: 'SANDBOX_FAILED' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
