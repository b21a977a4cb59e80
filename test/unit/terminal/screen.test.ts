import { afterEach, describe, expect, it } from 'vitest';
import { Screen } from '../../../server/terminal/screen.js';
import { numberedLines, render, lineNumbers, range } from './fakes.js';

describe('Screen', () => {
  let screen: Screen | undefined;
  afterEach(() => screen?.dispose());

  it('snapshots exactly the bytes written before the call, even while later writes are queued', async () => {
    screen = new Screen({ cols: 40, rows: 10 }, { scrollback: 10_000 });
    screen.write(Buffer.from(numberedLines(0, 3000)));
    const first = screen.snapshot();
    screen.write(Buffer.from(numberedLines(3000, 3100)));
    const second = screen.snapshot();
    screen.write(Buffer.from('line 0031')); // a partial line at the snapshot point
    const third = screen.snapshot();
    expect(lineNumbers(await render(await first, { cols: 40, rows: 10 }))).toEqual(range(0, 3000));
    expect(lineNumbers(await render(await second, { cols: 40, rows: 10 }))).toEqual(range(0, 3100));
    expect((await render(await third, { cols: 40, rows: 10 })).at(-1)).toBe('line 0031');
  });

  it('keeps only the configured scrollback', async () => {
    screen = new Screen({ cols: 40, rows: 10 }, { scrollback: 100 });
    screen.write(Buffer.from(numberedLines(0, 1000)));
    expect(lineNumbers(await render(await screen.snapshot(), { cols: 40, rows: 10 }))).toEqual(range(891, 1000)); // 100 scrollback + 10 rows, the last one holds the cursor
  });

  it('applies a resize after the bytes written before it', async () => {
    screen = new Screen({ cols: 10, rows: 5 });
    // Column 15 does not exist at 10 columns: the cursor stops at the last column. Had the
    // resize overtaken this write, the X would land in column 15.
    screen.write(Buffer.from('\x1b[1;15HX'));
    screen.resize({ cols: 20, rows: 5 });
    screen.write(Buffer.from('\x1b[2;15HY'));
    const lines = await render(await screen.snapshot(), { cols: 20, rows: 5 });
    expect(lines[0]).toBe(`${' '.repeat(9)}X`);
    expect(lines[1]).toBe(`${' '.repeat(14)}Y`);
  });

  it('reports lag while the parser is behind and drains', async () => {
    screen = new Screen({ cols: 80, rows: 24 }, { lagHighBytes: 1024 * 1024, lagLowBytes: 0 });
    let drained = 0;
    screen.onDrained = () => drained++;
    screen.write(Buffer.from(numberedLines(0, 200_000)));
    expect(screen.lagging).toBe(true);
    await screen.snapshot();
    expect(screen.lagging).toBe(false);
    expect(screen.pendingBytes).toBe(0);
    expect(drained).toBe(1);
  });

  it('rejects pending snapshots on dispose instead of leaving them hanging', async () => {
    screen = new Screen({ cols: 80, rows: 24 });
    screen.write(Buffer.from(numberedLines(0, 100_000)));
    const pending = screen.snapshot();
    screen.dispose();
    await expect(pending).rejects.toThrow('screen disposed');
    await expect(screen.snapshot()).rejects.toThrow('screen disposed');
  });
});
