/**
 * The workspace snapshot against hostile archives, built here with tar-stream (or raw
 * ustar blocks when a stream must be endless or huge): traversal, links out of the root,
 * writes through links, devices, hard links, oversized files, entry and size bombs, a
 * truncated or garbage archive, and an abort mid-stream. The real engine's archive is
 * covered by the driver contract and the Docker hardening suite.
 */
import { randomUUID } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../server/errors.js';
import { takeSnapshot, type TakenSnapshot } from '../../../server/checker/snapshot.js';

type Item = Parameters<tar.Pack['entry']>[0] & { body?: string | Buffer };

/** A finished archive of `items`, as tar-stream writes it (the local driver's archive is one too). */
function archive(items: Item[]): tar.Pack & NodeJS.ReadableStream {
  const pack = tar.pack();
  for (const { body, ...header } of items) {
    if (body === undefined) pack.entry(header);
    else pack.entry(header, body);
  }
  pack.finalize();
  return pack as tar.Pack & NodeJS.ReadableStream;
}

/** One raw ustar header block (for streams built by hand: endless, huge or broken). */
function ustar(name: string, size = 0, typeflag = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0001750\0', 108, 'latin1');
  h.write('0001750\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const END = Buffer.alloc(1024);

/** A byte stream from a generator of blocks, counting what was taken from it. */
function blocks(gen: () => Generator<Buffer>): { stream: Readable; taken: () => number } {
  let taken = 0;
  const it = gen();
  const stream = new Readable({
    read() {
      const next = it.next();
      if (next.done) this.push(null);
      else {
        taken += next.value.length;
        this.push(next.value);
      }
    },
  });
  return { stream, taken: () => taken };
}

function* zeros(size: number, chunk = 64 * 1024): Generator<Buffer> {
  const block = Buffer.alloc(chunk);
  for (let left = size; left > 0; left -= chunk) yield left >= chunk ? block : block.subarray(0, left);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

async function expectLimit(promise: Promise<unknown>, limit: string): Promise<AppError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('SANDBOX_FAILED');
  expect((error as AppError).details).toMatchObject({ limit });
  return error as AppError;
}

/** Every link in the tree either fails to resolve or resolves inside it. */
async function expectConfined(root: string): Promise<void> {
  const base = await realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      if (!entry.isSymbolicLink()) continue;
      const resolved = await realpath(full).catch((e: NodeJS.ErrnoException) => e.code ?? 'error');
      if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(resolved)) continue;
      expect(resolved === base || resolved.startsWith(`${base}/`), `${full} -> ${resolved}`).toBe(true);
    }
  };
  await walk(root);
}


describe('takeSnapshot', () => {
  let parent: string;
  const taken: TakenSnapshot[] = [];

  const snapshot = async (stream: NodeJS.ReadableStream, options: Parameters<typeof takeSnapshot>[1] = {}): Promise<TakenSnapshot> => {
    const snap = await takeSnapshot(stream, { dir: parent, ...options });
    taken.push(snap);
    return snap;
  };

  beforeEach(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'opslab-snap-test-'));
  });

  afterEach(async () => {
    for (const snap of taken.splice(0)) await snap.dispose();
    expect(await readdir(parent), 'dispose removes every snapshot').toEqual([]);
    await rm(parent, { recursive: true, force: true });
  });

  it('round-trips a repository-like tree: contents, nested dirs, read-only modes, links inside', async () => {
    const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
    const snap = await snapshot(
      archive([
        { name: './', type: 'directory', mode: 0o755 },
        { name: './.git/', type: 'directory', mode: 0o755 },
        { name: './.git/HEAD', body: 'ref: refs/heads/main\n', mode: 0o644 },
        { name: './.git/objects/ab/cdef01', body: binary, mode: 0o444 },
        { name: './src/', type: 'directory', mode: 0o750 },
        { name: './src/app.py', body: 'print("hi")\n', mode: 0o644 },
        { name: './src/deep/er/x.txt', body: 'deep\n' },
        { name: './run.sh', body: '#!/bin/sh\necho ran\n', mode: 0o4775 },
        { name: './secret.env', body: 'TOKEN=1\n', mode: 0o600 },
        { name: './empty', body: '' },
        { name: './naïve €.txt', body: 'unicode\n' },
        { name: './app-link', type: 'symlink', linkname: 'src/app.py' },
        { name: './src-link', type: 'symlink', linkname: 'src' },
        { name: './src/deep/up', type: 'symlink', linkname: '../../run.sh' },
        { name: './dangling', type: 'symlink', linkname: 'no/such/file' },
      ]),
    );
    const { dir } = snap;
    const read = (p: string): Promise<string> => readFile(path.join(dir, p), 'utf8');
    expect(snap.skipped).toEqual([]);
    expect(await read('.git/HEAD')).toBe('ref: refs/heads/main\n');
    expect((await readFile(path.join(dir, '.git/objects/ab/cdef01'))).equals(binary)).toBe(true);
    expect(await read('src/deep/er/x.txt')).toBe('deep\n');
    expect(await read('empty')).toBe('');
    expect(await read('naïve €.txt')).toBe('unicode\n');
    expect(await read('app-link')).toBe('print("hi")\n');
    expect(await read('src-link/app.py')).toBe('print("hi")\n');
    expect(await read('src/deep/up')).toContain('echo ran');
    expect(await readlink(path.join(dir, 'app-link'))).toBe('src/app.py');
    expect((await lstat(path.join(dir, 'dangling'))).isSymbolicLink()).toBe(true);

    // Read-only: write bits and setuid/setgid/sticky gone, read/exec bits kept, owner can read.
    const mode = async (p: string): Promise<number> => (await lstat(path.join(dir, p))).mode & 0o7777;
    expect(await mode('run.sh')).toBe(0o555);
    expect(await mode('src/app.py')).toBe(0o444);
    expect(await mode('secret.env')).toBe(0o400);
    expect(await mode('.git/objects/ab/cdef01')).toBe(0o444);
    expect(await mode('src')).toBe(0o550);
    expect(await mode('.git/objects')).toBe(0o555); // made for a file's parent
    expect(await mode('.')).toBe(0o555);
    const uid = process.getuid?.();
    if (uid !== undefined) expect((await stat(path.join(dir, 'run.sh'))).uid).toBe(uid);

    expect(snap.stats).toMatchObject({ files: 8, symlinks: 4, skipped: 0, strippedTopFolder: null });
    expect(snap.stats.bytesWritten).toBe(binary.length + 21 + 12 + 5 + 19 + 8 + 8);
    expect(path.dirname(dir)).toBe(parent);
    await expectConfined(dir);

    await snap.dispose();
    await snap.dispose(); // idempotent
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a link to /etc/shadow, and nothing in the snapshot reaches it', async () => {
    const snap = await snapshot(
      archive([
        { name: 'leak', type: 'symlink', linkname: '/etc/shadow' },
        { name: 'sub/leak2', type: 'symlink', linkname: '../../../../../../../etc/shadow' },
        { name: 'ok.txt', body: 'ok\n' },
      ]),
    );
    expect(snap.skipped).toEqual([
      'leak: symlink to an absolute path (/etc/shadow)',
      'sub/leak2: symlink target ../../../../../../../etc/shadow leaves the workspace',
    ]);
    await expect(readFile(path.join(snap.dir, 'leak'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(path.join(snap.dir, 'sub/leak2'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(path.join(snap.dir, 'ok.txt'), 'utf8')).toBe('ok\n');
    await expectConfined(snap.dir);
  });

  it('refuses traversal, absolute names and NUL, and writes nothing outside', async () => {
    const tag = randomUUID();
    const snap = await snapshot(
      archive([
        { name: `../../evil-${tag}`, body: 'evil' },
        { name: `a/../../evil-${tag}`, body: 'evil' },
        { name: `/tmp/abs-${tag}`, body: 'evil' },
        { name: `nul\0name-${tag}`, body: 'evil', pax: {} },
        { name: 'fine.txt', body: 'fine' },
      ]),
    );
    expect(snap.skipped).toEqual([
      `../../evil-${tag}: path with a ".." segment`,
      `a/../../evil-${tag}: path with a ".." segment`,
      `/tmp/abs-${tag}: absolute path`,
      `nul\\x00name-${tag}: NUL in the name`,
    ]);
    expect(await readdir(snap.dir)).toEqual(['fine.txt']);
    for (const where of [parent, tmpdir(), path.dirname(tmpdir()), '/tmp']) {
      expect((await readdir(where)).filter((n) => n.includes(tag))).toEqual([]);
    }
  });

  it('never writes through a link: a -> /tmp/x then a/pwned, b -> sub then b/pwned', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'opslab-outside-'));
    try {
      const snap = await snapshot(
        archive([
          { name: 'a', type: 'symlink', linkname: outside },
          { name: 'a/pwned', body: 'pwned' },
          { name: 'sub/', type: 'directory' },
          { name: 'b', type: 'symlink', linkname: 'sub' },
          { name: 'b/pwned', body: 'pwned' },
          { name: 'b/dir/', type: 'directory' },
          { name: 'c', type: 'symlink', linkname: '../..' },
          { name: 'c/pwned', body: 'pwned' },
          { name: 'f', body: 'file' },
          { name: 'f/x', body: 'under a file' },
          { name: 'b', body: 'a file over the link' },
          { name: 'sub', type: 'symlink', linkname: '/etc' },
        ]),
      );
      expect(await readdir(outside), 'nothing reached the outside dir').toEqual([]);
      expect(snap.skipped).toEqual([
        `a: symlink to an absolute path (${outside})`,
        'b/pwned: its parent b is a symlink',
        'b/dir: its parent b is a symlink',
        'c: symlink target ../.. leaves the workspace',
        'f/x: its parent f is not a directory',
        'b: already exists as a symlink',
        'sub: symlink to an absolute path (/etc)',
      ]);
      // The refused links were never made, so their names became plain directories here.
      expect(await readFile(path.join(snap.dir, 'a/pwned'), 'utf8')).toBe('pwned');
      expect((await lstat(path.join(snap.dir, 'a'))).isDirectory()).toBe(true);
      expect(await readFile(path.join(snap.dir, 'c/pwned'), 'utf8')).toBe('pwned');
      expect(await readdir(path.join(snap.dir, 'sub'))).toEqual([]);
      expect(await readlink(path.join(snap.dir, 'b'))).toBe('sub');
      await expectConfined(snap.dir);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('removes links that leave the root only through other links', async () => {
    const snap = await snapshot(
      archive([
        { name: 'd/up', type: 'symlink', linkname: '..' }, // the root itself: kept
        { name: 'd/esc', type: 'symlink', linkname: 'up/../etc/passwd' },
        { name: 'self', type: 'symlink', linkname: '.' },
        { name: 'x', type: 'symlink', linkname: 'self/self/../..' },
        { name: 'y', type: 'symlink', linkname: 'd/up/d/up/d/esc' },
        { name: 'loop1', type: 'symlink', linkname: 'loop2' },
        { name: 'loop2', type: 'symlink', linkname: 'loop1' },
        { name: 'via', type: 'symlink', linkname: 'd/up/target.txt' },
        { name: 'target.txt', body: 'target\n' },
      ]),
    );
    expect(snap.skipped.sort()).toEqual([
      'd/esc: symlink target up/../etc/passwd resolves outside the workspace through other links',
      'x: symlink target self/self/../.. resolves outside the workspace through other links',
    ]);
    // y went through d/esc, which is gone: it resolves to nothing now.
    await expect(realpath(path.join(snap.dir, 'y'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(path.join(snap.dir, 'via'), 'utf8')).toBe('target\n');
    expect(await readlink(path.join(snap.dir, 'd/up'))).toBe('..');
    await expectConfined(snap.dir);
  });

  it('refuses hard links, devices and fifos', async () => {
    const snap = await snapshot(
      archive([
        { name: 'passwd', type: 'link', linkname: '/etc/passwd' },
        { name: 'inner', body: 'x' },
        { name: 'inner-hard', type: 'link', linkname: 'inner' },
        { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'pipe', type: 'fifo' },
      ]),
    );
    expect(snap.skipped).toEqual([
      'passwd: hard link (to /etc/passwd)',
      'inner-hard: hard link (to inner)',
      'null: character-device',
      'sda: block-device',
      'pipe: fifo',
    ]);
    expect(await readdir(snap.dir)).toEqual(['inner']);
  });

  it('skips paths that are too long or too deep', async () => {
    const snap = await snapshot(
      archive([
        { name: `${'d/'.repeat(10)}deep.txt`, body: 'x' },
        { name: `long-${'x'.repeat(80)}/${'y'.repeat(80)}`, body: 'x' },
        { name: 'ok/fine.txt', body: 'x' },
      ]),
      { limits: { maxDepth: 8, maxPathBytes: 100 } },
    );
    expect(snap.skipped).toEqual([
      `${'d/'.repeat(10)}deep.txt: path deeper than 8 levels`,
      `long-${'x'.repeat(80)}/${'y'.repeat(80)}: path longer than 100 bytes`,
    ]);
    expect(await readdir(snap.dir)).toEqual(['ok']);
  });

  it('lists the first 1000 refusals and counts the rest', async () => {
    const { stream } = blocks(function* () {
      for (let i = 0; i < 1005; i++) yield ustar(`p${i}`, 0, '6');
      yield END;
    });
    const snap = await snapshot(stream);
    expect(snap.skipped).toHaveLength(1001);
    expect(snap.skipped[0]).toBe('p0: fifo');
    expect(snap.skipped[1000]).toBe('… and 5 more entries skipped');
    expect(snap.stats.skipped).toBe(1005);
  });

  it('skips a file over the per-file limit without writing it, quickly, and goes on', async () => {
    const size = 48 * 1024 * 1024;
    const { stream } = blocks(function* () {
      yield ustar('small.txt', 5);
      yield Buffer.concat([Buffer.from('small'), Buffer.alloc(507)]);
      yield ustar('model.bin', size);
      yield* zeros(size);
      yield ustar('after.txt', 0);
      yield END;
    });
    const started = performance.now();
    const snap = await snapshot(stream, { limits: { maxFileBytes: 1024 * 1024 } });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(snap.skipped).toEqual(['model.bin: 48 MiB, larger than the 1 MiB file limit']);
    expect((await readdir(snap.dir)).sort()).toEqual(['after.txt', 'small.txt']);
    expect(snap.stats).toMatchObject({ bytesWritten: 5, skippedFileBytes: size, files: 2 });
  });

  it('stops an endless entry bomb at the entry limit and removes the temp dir', async () => {
    const { stream, taken } = blocks(function* () {
      for (let i = 0; ; i++) yield ustar(`f${i}`);
    });
    await expectLimit(snapshot(stream, { limits: { maxEntries: 1000 } }), 'maxEntries');
    expect(stream.destroyed).toBe(true);
    expect(taken()).toBeLessThan(1000 * 512 + 4 * 1024 * 1024);
    expect(await readdir(parent)).toEqual([]);
  });

  it('counts directories made for parents toward the entry limit', async () => {
    const { stream } = blocks(function* () {
      for (let i = 0; ; i++) yield ustar(`${'n/'.repeat(20)}${i}/f`);
    });
    await expectLimit(snapshot(stream, { limits: { maxEntries: 100 } }), 'maxEntries');
    expect(await readdir(parent)).toEqual([]);
  });

  it('fails when files add up to more than the total limit, before writing the one too many', async () => {
    const chunk = Buffer.alloc(600 * 1024, 'a');
    const stream = archive([
      { name: 'one', body: chunk },
      { name: 'two', body: chunk },
      { name: 'three', body: chunk },
    ]);
    const error = await expectLimit(snapshot(stream, { limits: { maxTotalBytes: 1024 * 1024 } }), 'maxTotalBytes');
    expect(error.message).toMatch(/more than 1 MiB/);
    expect(await readdir(parent)).toEqual([]);
  });

  it('stops reading a huge stream at the archive budget, even inside a skipped file', async () => {
    const { stream, taken } = blocks(function* () {
      yield ustar('huge', 8 * 1024 * 1024 * 1024);
      for (;;) yield Buffer.alloc(64 * 1024);
    });
    const started = performance.now();
    await expectLimit(snapshot(stream, { limits: { maxArchiveBytes: 8 * 1024 * 1024 } }), 'maxArchiveBytes');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(taken()).toBeLessThan(8 * 1024 * 1024 + 2 * 1024 * 1024);
    expect(stream.destroyed).toBe(true);
    expect(await readdir(parent)).toEqual([]);
  });

  it('rejects a truncated, unterminated, empty or garbage archive, and a failing stream', async () => {
    const truncated = blocks(function* () {
      yield ustar('cut.txt', 1000);
      yield Buffer.alloc(10, 'x');
    });
    const garbage = blocks(function* () {
      yield Buffer.alloc(2048, 'garbage!');
    });
    const cutAtBoundary = blocks(function* () {
      yield ustar('complete.txt', 0); // a whole entry, then the stream ends: no end marker
    });
    const empty = blocks(function* () {
      // nothing at all
    });
    const failing = new Readable({
      read() {
        this.push(ustar('a.txt', 2000));
        this.destroy(new Error('connection reset by engine'));
      },
    });
    for (const stream of [truncated.stream, garbage.stream, cutAtBoundary.stream, empty.stream, failing]) {
      const error = await rejection(snapshot(stream));
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('SANDBOX_FAILED');
    }
    expect(await readdir(parent)).toEqual([]);
  });

  it('aborts mid-stream: rejects with the reason, destroys the source, removes the temp dir', async () => {
    let pushed = 0;
    const stalled = new Readable({
      read() {
        if (pushed++ === 0) this.push(Buffer.concat([ustar('first.txt', 3), Buffer.from('abc'), Buffer.alloc(509), ustar('slow.bin', 1 << 20), Buffer.alloc(4096)]));
        // then nothing more, ever
      },
    });
    const controller = new AbortController();
    const promise = snapshot(stalled, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    const reason = new Error('grading cancelled');
    controller.abort(reason);
    expect(await rejection(promise)).toBe(reason);
    expect(stalled.destroyed).toBe(true);
    expect(await readdir(parent)).toEqual([]);

    const already = archive([{ name: 'x', body: 'x' }]);
    const early = new AbortController();
    early.abort(reason);
    expect(await rejection(snapshot(already, { signal: early.signal }))).toBe(reason);
    expect(already.destroyed || already.destroying).toBe(true);
    expect(await readdir(parent)).toEqual([]);
  });

  it('strips a single wrapping workspace/ folder, but not from ./-rooted archives', async () => {
    const wrapped = await snapshot(
      archive([
        { name: 'workspace/', type: 'directory' },
        { name: 'workspace/a.txt', body: 'a' },
        { name: 'workspace/sub/b.txt', body: 'b' },
        { name: 'workspace/l', type: 'symlink', linkname: '../elsewhere' },
        { name: 'workspace/dev', type: 'fifo' },
      ]),
    );
    expect(path.basename(wrapped.dir)).toBe('workspace');
    expect((await readdir(wrapped.dir)).sort()).toEqual(['a.txt', 'sub']);
    expect(wrapped.stats.strippedTopFolder).toBe('workspace');
    expect(wrapped.skipped).toEqual(['dev: fifo', 'l: symlink target ../elsewhere resolves outside the workspace through other links']);

    const rooted = await snapshot(
      archive([
        { name: './', type: 'directory' },
        { name: './workspace/', type: 'directory' },
        { name: './workspace/a.txt', body: 'a' },
      ]),
    );
    expect(await readdir(rooted.dir)).toEqual(['workspace']);
    expect(rooted.stats.strippedTopFolder).toBeNull();
  });

  // Root ignores file modes, so only another user can observe read-only-ness: as root (as
  // CI runs) this is reported as skipped; run this file as an unprivileged user to see it.
  it.skipIf(process.getuid?.() === 0)('is read-only for its owner (not observable as root), and dispose still removes it', async () => {
    const snap = await snapshot(archive([{ name: 'd/f.txt', body: 'x' }]));
    await expect(writeFile(path.join(snap.dir, 'd/new.txt'), 'x')).rejects.toMatchObject({ code: 'EACCES' });
    await expect(writeFile(path.join(snap.dir, 'd/f.txt'), 'x', { flag: fsc.O_WRONLY })).rejects.toMatchObject({ code: 'EACCES' });
    await snap.dispose();
    await expect(stat(snap.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
