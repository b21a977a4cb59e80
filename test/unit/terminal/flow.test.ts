import { afterEach, describe, expect, it } from 'vitest';
import { FakeSocket, chunked, lineNumbers, numberedLines, range, readCast, render, sleep, startHub, waitFor, type HubFixture } from './fakes.js';

const SIZE = { cols: 40, rows: 10 };
const KiB = 1024;

describe('TerminalHub flow control', () => {
  let fx: HubFixture | undefined;
  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });

  it('a viewer that never acks does not slow the shell or a fast viewer, and later gets everything in order', async () => {
    const limits = { highWatermark: 64 * KiB, lowWatermark: 16 * KiB, maxQueueBytes: 4096 * KiB, maxFrameBytes: 16 * KiB };
    fx = await startHub({ size: SIZE, limits });
    const fast = new FakeSocket({ autoAck: true });
    const slow = new FakeSocket();
    fx.hub.attach(fast, 'candidate');
    fx.hub.attach(slow, 'observer');
    await sleep(20); // the (empty) snapshots
    const all = Buffer.from(numberedLines(0, 80_000)); // ~1 MiB
    expect(await fx.stream.produce(chunked(all, 4 * KiB))).toBe(true);
    expect(fx.stream.pauseCalls).toBe(0);
    expect(fast.output().equals(all)).toBe(true);
    // The slow one got up to its high watermark (at most one frame past it), the rest is queued.
    expect(slow.outputBytes).toBeGreaterThanOrEqual(limits.highWatermark);
    expect(slow.outputBytes).toBeLessThanOrEqual(limits.highWatermark + limits.maxFrameBytes);
    slow.autoAck = true;
    slow.ackAll();
    await waitFor(() => slow.outputBytes >= all.length, 5000, 'the slow viewer to catch up');
    expect(slow.output().equals(all)).toBe(true);
  });

  it('replaces an overflowing backlog with a reset and a fresh screen once the viewer catches up', async () => {
    const limits = { highWatermark: 16 * KiB, lowWatermark: 4 * KiB, maxQueueBytes: 128 * KiB, maxFrameBytes: 4 * KiB };
    fx = await startHub({ size: SIZE, limits, scrollback: 200 });
    const fast = new FakeSocket({ autoAck: true });
    const slow = new FakeSocket();
    fx.hub.attach(fast, 'candidate');
    fx.hub.attach(slow, 'observer');
    await sleep(20);
    const all = Buffer.from(numberedLines(0, 20_000)); // 260 KB: twice the queue bound
    expect(await fx.stream.produce(chunked(all, 2 * KiB))).toBe(true);
    expect(fx.stream.pauseCalls).toBe(0);
    const beforeAck = slow.frames.length;
    slow.autoAck = true;
    slow.ackAll();
    await waitFor(() => slow.frames.length > beforeAck + 1 && slow.output().includes('\x1bc'), 5000, 'the resync');
    // The resync tells the size first, then resets and paints the screen.
    const after = slow.decoded().slice(beforeAck);
    expect(after[0]).toEqual({ type: 'control', message: { type: 'resize', cols: 40, rows: 10 } });
    expect(after[1]?.type === 'output' && after[1].data.subarray(0, 2).toString()).toBe('\x1bc');
    // Live output continues after the snapshot.
    fx.stream.emit(numberedLines(20_000, 20_100));
    await waitFor(() => slow.output().toString().endsWith('line 020099\r\n'), 5000, 'live output after the resync');
    expect(slow.outputBytes).toBeLessThan(all.length); // the backlog was dropped, not sent
    const text = slow.output().toString();
    const beforeReset = lineNumbers(await render(text.slice(0, text.indexOf('\x1bc')), SIZE));
    expect(beforeReset).toEqual(range(0, beforeReset.length)); // in order up to the overflow
    // After the reset: the screen as of the snapshot (200 scrollback + 9 rows), then live, no gap.
    expect(lineNumbers(await render(text.slice(text.indexOf('\x1bc')), SIZE))).toEqual(range(19_791, 20_100));
    const fastScreen = (await render(fast.output(), SIZE)).slice(-9);
    expect((await render(slow.output(), SIZE)).slice(-9)).toEqual(fastScreen);
  });

  it('pauses the shell only when every viewer is stalled, and resumes when one catches up', async () => {
    const limits = { highWatermark: 16 * KiB, lowWatermark: 4 * KiB, maxQueueBytes: 1024 * KiB, maxFrameBytes: 4 * KiB };
    fx = await startHub({ size: SIZE, limits });
    const a = new FakeSocket();
    const b = new FakeSocket();
    fx.hub.attach(a, 'candidate');
    fx.hub.attach(b, 'observer');
    await sleep(20);
    const all = Buffer.from(numberedLines(0, 10_000));
    const chunks = chunked(all, KiB);
    expect(await fx.stream.produce(chunks, 100)).toBe(false); // stuck: nobody reads
    expect(fx.stream.paused).toBe(true);
    expect(fx.hub.stats.paused).toBe(true);
    for (const s of [a, b]) expect(s.outputBytes).toBeGreaterThanOrEqual(limits.highWatermark);
    const emitted = fx.hub.stats.bytesIn;
    a.autoAck = true;
    a.ackAll();
    expect(fx.stream.paused).toBe(false);
    expect(await fx.stream.produce(chunks.slice(emitted / KiB))).toBe(true);
    await waitFor(() => a.outputBytes >= all.length);
    expect(a.output().equals(all)).toBe(true);
    expect(fx.stream.paused).toBe(false); // b is still stalled, a keeps up
  });

  it('resumes when the last stalled viewer leaves, and never pauses for zero viewers', async () => {
    const limits = { highWatermark: 16 * KiB, lowWatermark: 4 * KiB, maxQueueBytes: 1024 * KiB, maxFrameBytes: 4 * KiB };
    fx = await startHub({ size: SIZE, limits });
    const only = new FakeSocket();
    fx.hub.attach(only, 'candidate');
    await sleep(20);
    const all = Buffer.from(numberedLines(0, 100_000)); // 1.3 MB
    const chunks = chunked(all, KiB);
    expect(await fx.stream.produce(chunks, 50)).toBe(false);
    expect(fx.stream.paused).toBe(true);
    only.drop();
    expect(fx.stream.paused).toBe(false);
    expect(fx.hub.stats.viewers).toBe(0);
    const sent = fx.hub.stats.bytesIn;
    expect(await fx.stream.produce(chunks.slice(sent / KiB), 50)).toBe(true);
    expect(fx.stream.pauseCalls).toBe(1);
    await fx.hub.close();
    expect((await readCast(fx.recordingPath)).text).toBe(all.toString()); // recorded regardless of viewers
  });

  it('treats a socket that does not drain (bufferedAmount) like one that does not ack', async () => {
    const limits = { highWatermark: 16 * KiB, lowWatermark: 4 * KiB, maxQueueBytes: 1024 * KiB, maxFrameBytes: 4 * KiB };
    fx = await startHub({ size: SIZE, limits });
    const viewer = new FakeSocket({ autoAck: true }); // acks promptly, but its TCP peer stops reading
    fx.hub.attach(viewer, 'candidate');
    await sleep(20);
    viewer.holdCallbacks = true;
    const all = Buffer.from(numberedLines(0, 5000));
    const chunks = chunked(all, KiB);
    expect(await fx.stream.produce(chunks, 50)).toBe(false);
    expect(fx.stream.paused).toBe(true);
    expect(viewer.outputBytes).toBeGreaterThanOrEqual(limits.highWatermark);
    expect(viewer.outputBytes).toBeLessThanOrEqual(limits.highWatermark + limits.maxFrameBytes);
    viewer.holdCallbacks = false;
    viewer.flushCallbacks(); // the socket drained
    expect(fx.stream.paused).toBe(false);
    expect(await fx.stream.produce(chunks.slice(fx.hub.stats.bytesIn / KiB))).toBe(true);
    await waitFor(() => viewer.outputBytes >= all.length);
    expect(viewer.output().equals(all)).toBe(true);
  });

  it('notices a socket draining bytes it did not send itself', async () => {
    const limits = { highWatermark: 16 * KiB, lowWatermark: 4 * KiB, maxQueueBytes: 1024 * KiB, maxFrameBytes: 4 * KiB };
    fx = await startHub({ size: SIZE, limits });
    const viewer = new FakeSocket({ autoAck: true });
    fx.hub.attach(viewer, 'candidate');
    await sleep(20);
    viewer.bufferedAmount = 64 * KiB; // e.g. queued by ws itself: no send callback of ours will fire
    fx.stream.emit('first\r\n');
    expect(fx.stream.paused).toBe(true);
    expect(viewer.outputBytes).toBe(0);
    viewer.bufferedAmount = 0;
    await waitFor(() => !fx!.stream.paused, 2000, 'the hub to notice the drain');
    expect(viewer.output().toString()).toBe('first\r\n');
  });

  it('pauses the shell while the screen parser is far behind, then resumes', async () => {
    fx = await startHub({ size: SIZE, limits: { screenLagBytes: 256 * KiB } });
    fx.stream.emit(numberedLines(0, 100_000)); // 1.3 MB in one go
    expect(fx.stream.paused).toBe(true);
    await waitFor(() => !fx!.stream.paused, 10_000, 'the parser to catch up');
    expect(fx.stream.resumeCalls).toBe(1);
  });
});
