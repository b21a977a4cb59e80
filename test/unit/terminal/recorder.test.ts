import { appendFile, copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { incompleteUtf8Tail, Recorder } from '../../../server/terminal/recorder.js';
import { numberedLines, readCast, sleep } from './fakes.js';

/** Deterministic pseudo-random chunk sizes, so failures reproduce. */
function splitRandomly(buf: Buffer, seed: number, max: number): Buffer[] {
  let x = seed;
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % max);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe('Recorder', () => {
  let dir: string;
  let path: string;
  const open: Recorder[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opslab-rec-'));
    path = join(dir, 'terminal.cast');
  });
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  async function openRecorder(options: Partial<Parameters<typeof Recorder.open>[1]> = {}, at = path): Promise<Recorder> {
    const r = await Recorder.open(at, { size: { cols: 80, rows: 24 }, ...options });
    open.push(r);
    return r;
  }

  it('writes an asciicast v2 file holding 200000 numbered lines complete and in order', async () => {
    let clock = 1_700_000_000_500;
    const r = await openRecorder({ now: () => clock, size: { cols: 120, rows: 40 } });
    const input = Buffer.from(numberedLines(0, 200_000).replace(/line 00001/g, 'línea ☃ 😀 '));
    for (const chunk of splitRandomly(input, 7, 9000)) {
      r.write(chunk);
      clock += 1;
    }
    await r.close();
    const cast = await readCast(path);
    expect(cast.header).toEqual({ version: 2, width: 120, height: 40, timestamp: 1_700_000_000, env: { TERM: 'xterm-256color' } });
    expect(cast.text).toBe(input.toString('utf8'));
    expect(cast.text).not.toContain('\uFFFD');
    const times = cast.events.map((e) => e[0]);
    expect(times[0]).toBeCloseTo(0.5, 6); // seconds since the header's whole-second timestamp
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    expect(JSON.parse(await readFile(`${path}.ckpt`, 'utf8'))).toEqual({
      bytes: input.length,
      castBytes: (await readFile(path)).length,
    });
  });

  it('keeps a multi-byte character split across chunks intact', async () => {
    const r = await openRecorder();
    const text = 'é€😀x';
    for (const byte of Buffer.from(text)) r.write(Buffer.of(byte)); // the worst case: one byte per chunk
    r.write(Buffer.from('😀').subarray(0, 2));
    r.write(Buffer.from('😀').subarray(2));
    await r.close();
    const cast = await readCast(path);
    expect(cast.text).toBe(`${text}😀`);
    for (const e of cast.events) expect(e[2]).not.toContain('\uFFFD');
  });

  it('finds the incomplete tail of a UTF-8 buffer', () => {
    const euro = Buffer.from('€'); // e2 82 ac
    expect(incompleteUtf8Tail(Buffer.from('abc'))).toBe(0);
    expect(incompleteUtf8Tail(euro)).toBe(0);
    expect(incompleteUtf8Tail(euro.subarray(0, 1))).toBe(1);
    expect(incompleteUtf8Tail(euro.subarray(0, 2))).toBe(2);
    expect(incompleteUtf8Tail(Buffer.from('😀').subarray(0, 3))).toBe(3);
    expect(incompleteUtf8Tail(Buffer.from([0x41, 0xff]))).toBe(0); // invalid, not incomplete
    expect(incompleteUtf8Tail(Buffer.from([0x41, 0xc0]))).toBe(0);
  });

  it('records resizes as "r" events', async () => {
    const r = await openRecorder();
    r.write(Buffer.from('a'));
    r.resize({ cols: 100, rows: 30 });
    r.write(Buffer.from('b'));
    await r.close();
    expect((await readCast(path)).events.map((e) => [e[1], e[2]])).toEqual([['o', 'a'], ['r', '100x30'], ['o', 'b']]);
  });

  it('appends on its timer, not only on close', async () => {
    const r = await openRecorder({ flushIntervalMs: 30 });
    const before = (await readFile(path)).length;
    r.write(Buffer.from('tick'));
    expect((await readFile(path)).length).toBe(before); // buffered, not written per chunk
    await sleep(150);
    expect((await readCast(path)).text).toBe('tick');
  });

  it('after a crash, cuts the cast back to its checkpoint and continues with every byte exactly once', async () => {
    let clock = 1_700_000_000_000;
    const r1 = await openRecorder({ now: () => clock, flushIntervalMs: 3_600_000 });
    const stream = Buffer.from(numberedLines(0, 3000) + 'naïve ☃ end\r\n');
    const a = stream.subarray(0, 20_001); // ends inside a line
    r1.write(a);
    await r1.flush();
    // The disk as a crash would leave it: an append that landed without its checkpoint.
    const crashed = join(dir, 'crashed.cast');
    await copyFile(path, crashed);
    await copyFile(`${path}.ckpt`, `${crashed}.ckpt`);
    await appendFile(crashed, '[1.5, "o", "line 0001');
    clock += 60_000;
    const r2 = await openRecorder({ now: () => clock }, crashed);
    expect(r2.origin).toBe('resumed');
    expect(r2.recordedBytes).toBe(a.length);
    expect(r2.startedAt).toBe(r1.startedAt);
    for (const chunk of splitRandomly(stream.subarray(r2.recordedBytes), 3, 500)) r2.write(chunk);
    await r2.close();
    const cast = await readCast(crashed);
    expect(cast.text).toBe(stream.toString('utf8'));
    expect(cast.header.timestamp).toBe(r1.startedAt);
    const last = cast.events.at(-1)!;
    expect(last[0]).toBeCloseTo(60, 3); // times continue from the original header
  });

  it('does not count a character it could not finish, so a restart re-records it whole', async () => {
    const r1 = await openRecorder();
    const stream = Buffer.from('price: 5€ total');
    const cut = stream.indexOf(0xe2) + 1; // inside the €
    r1.write(stream.subarray(0, cut));
    expect(r1.recordedBytes).toBe(cut);
    await r1.close();
    const r2 = await openRecorder();
    expect(r2.recordedBytes).toBe(cut - 1);
    r2.write(stream.subarray(r2.recordedBytes));
    await r2.close();
    expect((await readCast(path)).text).toBe('price: 5€ total');
  });

  it('sets aside a cast without a checkpoint and starts over at offset 0', async () => {
    await writeFile(path, '{"version":2,"width":80,"height":24,"timestamp":1}\n[0.1,"o","old"]\n');
    const r = await openRecorder();
    expect(r.origin).toBe('recreated');
    expect(r.recordedBytes).toBe(0);
    r.write(Buffer.from('new'));
    await r.close();
    expect((await readCast(path)).text).toBe('new');
    const kept = (await readdir(dir)).filter((f) => f.startsWith('terminal.cast.stale-'));
    expect(kept).toHaveLength(1);
    expect(await readFile(join(dir, kept[0]!), 'utf8')).toContain('"old"');
  });

  it('does not trust a checkpoint that claims more than the file holds', async () => {
    const r1 = await openRecorder();
    r1.write(Buffer.from('hello'));
    await r1.close();
    const ckpt = JSON.parse(await readFile(`${path}.ckpt`, 'utf8')) as { bytes: number; castBytes: number };
    await writeFile(`${path}.ckpt`, JSON.stringify({ ...ckpt, castBytes: ckpt.castBytes + 100 }));
    const r2 = await openRecorder();
    expect(r2.origin).toBe('recreated');
    expect(r2.recordedBytes).toBe(0);
  });

  it('past maxCastBytes, says so in a marker, records no more output text and keeps counting', async () => {
    const r = await openRecorder({ maxCastBytes: 20_000 });
    const stream = Buffer.from(numberedLines(0, 2000));
    for (const chunk of splitRandomly(stream, 5, 700)) r.write(chunk);
    expect(r.capped).toBe(true);
    expect(r.recordedBytes).toBe(stream.length);
    r.writeScreen('the screen now');
    await r.close();
    const { size } = await stat(path);
    expect(size).toBeLessThan(20_000 + 500);
    const cast = await readCast(path);
    const markers = cast.events.filter((e) => e[1] === 'm');
    expect(markers.map((e) => e[2])).toEqual(['recording capped at 20 KB: from here on, a picture of the screen every few seconds']);
    const afterMarker = cast.events.slice(cast.events.indexOf(markers[0]!) + 1);
    expect(afterMarker.map((e) => e[2])).toEqual(['\x1b[H\x1b[2Jthe screen now']);
    // What was recorded before the cap is the exact start of the output.
    expect(stream.toString('utf8').startsWith(cast.text.replace('\x1b[H\x1b[2Jthe screen now', ''))).toBe(true);
  });

  it('a capped recording stays capped after a restart, at the right offset', async () => {
    const r1 = await openRecorder({ maxCastBytes: 5_000 });
    r1.write(Buffer.from(numberedLines(0, 500)));
    expect(r1.capped).toBe(true);
    const total = r1.recordedBytes;
    await r1.close();
    const r2 = await openRecorder({ maxCastBytes: 5_000 });
    expect(r2.origin).toBe('resumed');
    expect(r2.capped).toBe(true);
    expect(r2.recordedBytes).toBe(total);
    r2.write(Buffer.from('after the restart'));
    expect(r2.recordedBytes).toBe(total + 'after the restart'.length);
    await r2.close();
    const cast = await readCast(path);
    expect(cast.text).not.toContain('after the restart');
    expect(cast.events.filter((e) => e[1] === 'm')).toHaveLength(1);
  });
});
