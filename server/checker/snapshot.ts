/**
 * The checker's snapshot: the workspace copied safely to the host, from the tar stream of
 * `driver.archive(ref)` (issue 3, "tamper resistance"). Nothing in the stream is trusted;
 * the extractor is our own code on tar-stream (no `tar` CLI, nothing that follows links).
 *
 * Entries are extracted into a fresh private temp dir (0700, under `options.dir` or the
 * OS temp dir). Refused, and recorded in `skipped` as `path: reason` (the rest goes on):
 *   - absolute names, names with a `..` segment or a NUL, paths too long or too deep;
 *   - hard links, character and block devices, fifos, unknown entry types;
 *   - symlinks to an absolute path or whose target climbs out of the root, and (after
 *     the whole tree is in) links that leave the root through other links; links that
 *     stay inside are kept as links;
 *   - an entry whose parent is a link or a file (nothing is ever written through a link:
 *     parents are real directories this extractor made, files are created with
 *     O_CREAT|O_EXCL|O_NOFOLLOW, links and directories fail on an existing name), and a
 *     second entry for a name already taken (the first one stays);
 *   - a file larger than `maxFileBytes`: its bytes are read past (the stream is
 *     sequential) but never written. Docker's getArchive sends a sparse file's holes as
 *     zeros, so `truncate -s 1G big` costs reading 1 GiB (3-9 s here); `maxArchiveBytes`
 *     bounds that cost, and a driver that left big files out would avoid it.
 * The list keeps the first 1000 refusals and then says how many more there were.
 * Hard limits fail the whole snapshot with `AppError('SANDBOX_FAILED')` (`details.limit`
 * names the limit) and remove the temp dir: `maxTotalBytes` (checked against each file's
 * declared size before writing it), `maxEntries` (archive entries plus directories made
 * for them) and `maxArchiveBytes` (bytes read from the stream, skipped contents included,
 * so a huge file cannot keep us reading for long). A malformed archive, one that ends
 * without its end-of-archive marker (cut short, even at an entry boundary), or a failing
 * stream is `SANDBOX_FAILED` too; a host-side write failure is `INTERNAL`. An abort
 * rejects with `signal.reason`. On every failure the source stream is destroyed.
 *
 * Modes: the snapshot is read-only. Every write bit and the setuid, setgid and sticky bits
 * are cleared, the candidate's read and execute bits are kept (so a check can still tell
 * 0755 from 0644, or a private 0600 file, seen as 0400, from a 0644 one), and the owner
 * (the server user, never chowned) can always read files and list directories. Nothing
 * more is needed: checks only read, and git can read `.git` (but never run the host's git
 * on a snapshot with the candidate's `.git/config` without neutralising it: hooks and
 * `core.fsmonitor` run commands). `dispose()` makes directories writable and removes all.
 *
 * File-system calls are the async ones: creating files can take a millisecond each on a
 * busy disk, and the server's terminals must not wait behind a 50 000-file workspace.
 *
 * A single top folder named `topFolder` (`workspace` by default, the basename of the
 * sandbox path) that wraps every entry is stripped (the shape of an engine archive of
 * `/workspace` without the trailing `/.`). Names starting with `./` (`/workspace/.`, what
 * the Docker driver asks for) are rooted already and never stripped.
 */
import { constants as fsc } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, mkdir, mkdtemp, open, symlink, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tar, { type Extract } from 'tar-stream';
import { AppError, describeError } from '../errors.js';
import { chmodDirectory, removeTree } from './snapshot-fs.js';
import { LinkResolver, type NodeKind } from './snapshot-links.js';
import type { Snapshot } from './types.js';

export interface SnapshotLimits {
  /** Sum of the sizes of the files written. Exceeding it fails the snapshot. */
  maxTotalBytes: number;
  /** A larger file is skipped (with its reason), not written; the snapshot goes on. */
  maxFileBytes: number;
  /** Archive entries of every kind (skipped ones too) plus directories made for them. Exceeding it fails. */
  maxEntries: number;
  /** Bytes read from the stream, contents of skipped files included. Exceeding it fails. */
  maxArchiveBytes: number;
  /** Longest entry path (relative, normalised) or link target, in UTF-8 bytes; longer ones are skipped. */
  maxPathBytes: number;
  /** Most path segments in an entry's name; deeper entries are skipped. */
  maxDepth: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_SNAPSHOT_LIMITS: Readonly<SnapshotLimits> = Object.freeze({
  maxTotalBytes: 256 * MiB,
  maxFileBytes: 64 * MiB,
  maxEntries: 50_000,
  // 5-15 s of the engine's getArchive on this host (130-350 MB/s): room to read past a big
  // file or two (a model, a dataset) instead of failing the grading.
  maxArchiveBytes: 2048 * MiB,
  maxPathBytes: 1024,
  maxDepth: 64,
});

export interface SnapshotStats {
  /** Archive entries seen (skipped ones included). */
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  /** Entries refused (the `skipped` list may be shortened; this is the full count). */
  skipped: number;
  bytesWritten: number;
  /** Bytes read from the stream. */
  archiveBytes: number;
  /** Declared sizes of files skipped as too large (read past, not written). */
  skippedFileBytes: number;
  durationMs: number;
  /** The wrapping folder that was stripped, if any. */
  strippedTopFolder: string | null;
}

export interface TakenSnapshot extends Snapshot {
  stats: SnapshotStats;
  /** Removes the snapshot (read-only directories included). Idempotent. */
  dispose(): Promise<void>;
}

export interface TakeSnapshotOptions {
  /** Parent directory of the snapshot's temp dir; the OS temp dir by default. */
  dir?: string;
  limits?: Partial<SnapshotLimits>;
  signal?: AbortSignal;
  /** Name of a folder that may wrap the whole archive (stripped if it does); `false` never strips. */
  topFolder?: string | false;
}

/** At most this many `skipped` lines are kept; a last line counts the rest. */
const MAX_SKIPPED_LISTED = 1000;
/** A tar archive ends with two zero blocks. */
const END_MARKER_BYTES = 1024;
/** Bytes the parser buffers before the source is paused. */
const PARSER_BUFFER_BYTES = 1024 * 1024;
/** Longest file-name segment Linux accepts. */
const MAX_SEGMENT_BYTES = 255;
/** Lookups the link check may spend per entry allowed. */
const LINK_STEPS_PER_ENTRY = 100;

/** An archive entry: its header and a stream of its contents. */
type Entry = Extract extends AsyncIterable<infer T> ? T : never;

const FILE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** Read-only: the candidate's read and execute bits, owner read always, nothing else. */
export const fileMode = (mode: number): number => (mode & 0o555) | 0o400;
export const dirMode = (mode: number): number => (mode & 0o555) | 0o500;

/**
 * Extracts an untrusted workspace tar stream into a fresh temp dir (see the file comment
 * for what is refused and why). The caller disposes the snapshot when done.
 */
export async function takeSnapshot(source: NodeJS.ReadableStream, options: TakeSnapshotOptions = {}): Promise<TakenSnapshot> {
  const started = performance.now();
  const { signal } = options;
  let limits: SnapshotLimits;
  let tmp: string;
  try {
    limits = resolveLimits(options.limits);
    signal?.throwIfAborted();
    try {
      tmp = await mkdtemp(path.join(options.dir ?? os.tmpdir(), 'opslab-snapshot-'));
    } catch (e) {
      throw new AppError('INTERNAL', `cannot create the snapshot directory: ${describeError(e)}`, { cause: e });
    }
  } catch (e) {
    destroyStream(source);
    throw e;
  }

  const extractor = new Extractor(tmp, limits, options.topFolder ?? 'workspace');
  try {
    await extractor.extract(source, signal);
    const root = await extractor.finish(signal);
    const stats: SnapshotStats = { ...extractor.stats(), durationMs: Math.round(performance.now() - started) };
    let disposed: Promise<void> | undefined;
    return {
      dir: root,
      skipped: extractor.skippedLines(),
      stats,
      dispose: () => (disposed ??= removeTree(tmp)),
    };
  } catch (e) {
    destroyStream(source);
    await removeTree(tmp).catch(() => undefined);
    throw e;
  }
}

function resolveLimits(partial: Partial<SnapshotLimits> | undefined): SnapshotLimits {
  const limits = { ...DEFAULT_SNAPSHOT_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new AppError('VALIDATION', `snapshot limit ${name} must be a non-negative integer, not ${String(value)}`);
    }
  }
  return limits;
}

function destroyStream(stream: NodeJS.ReadableStream): void {
  const destroy = (stream as { destroy?: (error?: Error) => void }).destroy;
  if (typeof destroy === 'function') destroy.call(stream);
}

function limitError(limit: keyof SnapshotLimits, message: string, value: number): AppError {
  return new AppError('SANDBOX_FAILED', `workspace snapshot refused: ${message}`, { details: { limit, value } });
}

function hostError(what: string, e: unknown): AppError {
  return new AppError('INTERNAL', `cannot write the snapshot (${what}): ${describeError(e)}`, { cause: e });
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB) return `${+(n / (1024 * MiB)).toFixed(1)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A name as shown to staff: control characters escaped, bounded. */
function shown(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length <= max ? escaped : `${escaped.slice(0, max)}…`;
}

type ParsedName = { segments: string[] } | { reason: string };

function parseName(name: string, limits: SnapshotLimits): ParsedName {
  if (name.includes('\0')) return { reason: 'NUL in the name' };
  if (name.startsWith('/')) return { reason: 'absolute path' };
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { reason: 'path with a ".." segment' };
  if (Buffer.byteLength(segments.join('/')) > limits.maxPathBytes) return { reason: `path longer than ${limits.maxPathBytes} bytes` };
  if (segments.length > limits.maxDepth) return { reason: `path deeper than ${limits.maxDepth} levels` };
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) return { reason: `a name longer than ${MAX_SEGMENT_BYTES} bytes` };
  return { segments };
}

/** Whether a relative link target, read from the link's directory, climbs above the root by itself. */
function climbsOut(linkDir: readonly string[], target: string): boolean {
  let depth = linkDir.length;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (depth === 0) return true;
      depth--;
    } else {
      depth++;
    }
  }
  return false;
}

/** Reads an entry's contents to the end without keeping them. */
async function drain(entry: Entry): Promise<void> {
  // tar-stream gives a directory a stream that never ends; it has no contents anyway.
  if (entry.header.type === 'directory' || !entry.header.size) return;
  for await (const _chunk of entry) {
    // discarded
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

class Extractor {
  /** Everything created, by path relative to the temp dir: the extractor is its only writer. */
  private readonly kinds = new Map<string, NodeKind>();
  private readonly linkTargets = new Map<string, string>();
  /** Final modes of directories (applied last: they are read-only). */
  private readonly dirModes = new Map<string, number>();
  private readonly links: string[][] = [];
  private readonly skipped: { name: string; reason: string }[] = [];
  private skippedCount = 0;
  /** Archive entries seen. */
  private entries = 0;
  /** What `maxEntries` bounds: archive entries plus directories made for their parents. */
  private nodes = 0;
  private files = 0;
  private directories = 0;
  private bytesWritten = 0;
  private archiveBytes = 0;
  private skippedFileBytes = 0;
  /** Whether every usable entry so far lies under `topFolder`. */
  private allUnderTop = true;
  private stripped: string | null = null;

  constructor(
    private readonly tmp: string,
    private readonly limits: SnapshotLimits,
    private readonly topFolder: string | false,
  ) {
    // The root is read-only like any directory, also when the archive has no entry for it.
    this.dirModes.set('', 0o755);
  }

  /** Feeds the stream to the parser (with the byte budget) and handles entries in order. */
  async extract(source: NodeJS.ReadableStream, signal: AbortSignal | undefined): Promise<void> {
    // A larger buffer than streamx's 16 KiB default: fewer pause/resume turns of the source.
    const extract = tar.extract({ highWaterMark: PARSER_BUFFER_BYTES });
    let failure: unknown;
    let ended = false;
    /** The last bytes of the stream: a complete archive ends with two zero blocks. */
    let tail: Buffer = Buffer.alloc(0);
    const fail = (error: unknown): void => {
      if (failure !== undefined) return;
      failure = error;
      destroyStream(source);
      extract.destroy(error instanceof Error ? error : new Error(String(error)));
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.archiveBytes += buffer.length;
      if (this.archiveBytes > this.limits.maxArchiveBytes) {
        fail(limitError('maxArchiveBytes', `the archive is larger than ${formatBytes(this.limits.maxArchiveBytes)}`, this.archiveBytes));
        return;
      }
      tail = buffer.length >= END_MARKER_BYTES ? buffer.subarray(-END_MARKER_BYTES) : Buffer.concat([tail, buffer]).subarray(-END_MARKER_BYTES);
      if (!extract.write(buffer)) source.pause();
    };
    const onEnd = (): void => {
      ended = true;
      // The parser accepts a stream cut at an entry boundary; the end marker tells a
      // complete archive from one that lost its last entries on the way.
      if (this.archiveBytes % 512 !== 0 || tail.length < END_MARKER_BYTES || tail.some((byte) => byte !== 0)) {
        fail(new AppError('SANDBOX_FAILED', 'the workspace archive ended without its end-of-archive marker (cut short?)'));
        return;
      }
      extract.end(null);
    };
    const onError = (e: unknown): void =>
      fail(new AppError('SANDBOX_FAILED', `reading the workspace archive failed: ${describeError(e)}`, { cause: e }));
    const onClose = (): void => {
      if (!ended) fail(new AppError('SANDBOX_FAILED', 'the workspace archive stream closed before its end'));
    };
    const onAbort = (): void => fail(signal?.reason);

    extract.on('drain', () => source.resume());
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
    source.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const entry of extract) {
        await this.entry(entry);
      }
      if (failure !== undefined) throw failure;
    } catch (e) {
      const error = failure ?? e;
      fail(error);
      if (signal?.aborted && error === signal.reason) throw error;
      if (error instanceof AppError) throw error;
      throw new AppError('SANDBOX_FAILED', `the workspace archive is malformed: ${describeError(error)}`, { cause: error });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.removeListener('data', onData);
      source.removeListener('end', onEnd);
      source.removeListener('close', onClose);
      // An error after this point has nobody to report to; keep it from being unhandled.
      source.removeListener('error', onError);
      source.on('error', () => undefined);
    }
  }

  private skip(name: string, reason: string): void {
    this.skippedCount++;
    if (this.skipped.length < MAX_SKIPPED_LISTED) this.skipped.push({ name, reason });
  }

  private count(): void {
    if (++this.nodes > this.limits.maxEntries) {
      throw limitError('maxEntries', `more than ${this.limits.maxEntries} entries`, this.nodes);
    }
  }

  private async entry(entry: Entry): Promise<void> {
    const header = entry.header;
    this.entries++;
    this.count();
    const parsed = parseName(header.name, this.limits);
    if ('reason' in parsed) {
      this.skip(header.name, parsed.reason);
      return drain(entry);
    }
    const { segments } = parsed;
    const name = segments.join('/');
    if (segments[0] !== this.topFolder) this.allUnderTop = false;
    const mode = (header.mode ?? 0o644) & 0o7777;

    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        return this.file(entry, segments, mode);
      case 'directory':
        return this.directory(segments, mode);
      case 'symlink':
        await this.symlink(segments, header.linkname ?? '');
        return drain(entry);
      case 'link':
        this.skip(name, `hard link (to ${shown(header.linkname ?? '')})`);
        return drain(entry);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        this.skip(name, header.type);
        return drain(entry);
      default:
        this.skip(name, `unsupported entry type ${String(header.type)}`);
        return drain(entry);
    }
  }

  /** Makes sure every parent of `segments` is a real directory made here; a reason when not. */
  private async parents(segments: readonly string[]): Promise<string | undefined> {
    for (let i = 1; i < segments.length; i++) {
      const rel = segments.slice(0, i).join('/');
      const kind = this.kinds.get(rel);
      if (kind === 'dir') continue;
      if (kind === 'symlink') return `its parent ${shown(rel)} is a symlink`;
      if (kind === 'file') return `its parent ${shown(rel)} is not a directory`;
      // Not made here, so it must not exist; lstat says so without following anything.
      const full = path.join(this.tmp, rel);
      const existing = await lstat(full).catch((e: unknown) => {
        if (errno(e) === 'ENOENT') return null;
        throw hostError(`lstat ${rel}`, e);
      });
      if (existing !== null) return `its parent ${shown(rel)} already exists and is not ours`;
      this.count();
      try {
        await mkdir(full, { mode: 0o700 });
      } catch (e) {
        throw hostError(`mkdir ${rel}`, e);
      }
      this.kinds.set(rel, 'dir');
      this.dirModes.set(rel, 0o755);
      this.directories++;
    }
    return undefined;
  }

  private async file(entry: Entry, segments: string[], mode: number): Promise<void> {
    const name = segments.join('/');
    const size = entry.header.size ?? 0;
    if (segments.length === 0) {
      this.skip('.', 'the root is not a file');
      return drain(entry);
    }
    if (size > this.limits.maxFileBytes) {
      this.skip(name, `${formatBytes(size)}, larger than the ${formatBytes(this.limits.maxFileBytes)} file limit`);
      this.skippedFileBytes += size;
      return drain(entry);
    }
    if (this.bytesWritten + size > this.limits.maxTotalBytes) {
      throw limitError('maxTotalBytes', `files add up to more than ${formatBytes(this.limits.maxTotalBytes)}`, this.bytesWritten + size);
    }
    const refused = await this.parents(segments);
    const existing = this.kinds.get(name);
    if (refused !== undefined || existing !== undefined) {
      this.skip(name, refused ?? `already exists as a ${existing}`);
      return drain(entry);
    }
    let handle: FileHandle;
    try {
      handle = await open(path.join(this.tmp, name), FILE_FLAGS, 0o600);
    } catch (e) {
      if (errno(e) === 'EEXIST' || errno(e) === 'ELOOP') {
        this.skip(name, 'already exists');
        return drain(entry);
      }
      throw hostError(`create ${name}`, e);
    }
    this.kinds.set(name, 'file');
    this.files++;
    try {
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        this.bytesWritten += chunk.length;
        if (this.bytesWritten > this.limits.maxTotalBytes) {
          throw limitError('maxTotalBytes', `files add up to more than ${formatBytes(this.limits.maxTotalBytes)}`, this.bytesWritten);
        }
        await writeAll(handle, chunk).catch((e: unknown) => {
          throw hostError(`write ${name}`, e);
        });
      }
      await handle.chmod(fileMode(mode)).catch((e: unknown) => {
        throw hostError(`chmod ${name}`, e);
      });
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private async directory(segments: string[], mode: number): Promise<void> {
    const name = segments.join('/');
    if (segments.length === 0) {
      this.dirModes.set('', mode);
      return;
    }
    const refused = await this.parents(segments);
    if (refused !== undefined) return this.skip(name, refused);
    const kind = this.kinds.get(name);
    if (kind === 'dir') {
      // A second entry for a directory (or one made earlier as a parent): only its mode counts.
      this.dirModes.set(name, mode);
      return;
    }
    if (kind !== undefined) return this.skip(name, `already exists as a ${kind}`);
    try {
      await mkdir(path.join(this.tmp, name), { mode: 0o700 });
    } catch (e) {
      if (errno(e) === 'EEXIST') return this.skip(name, 'already exists');
      throw hostError(`mkdir ${name}`, e);
    }
    this.kinds.set(name, 'dir');
    this.dirModes.set(name, mode);
    this.directories++;
  }

  private async symlink(segments: string[], target: string): Promise<void> {
    const name = segments.join('/');
    let reason: string | undefined;
    if (segments.length === 0) reason = 'the root cannot be a link';
    else if (target === '') reason = 'symlink with an empty target';
    else if (target.includes('\0')) reason = 'NUL in the link target';
    else if (Buffer.byteLength(target) > this.limits.maxPathBytes) reason = `link target longer than ${this.limits.maxPathBytes} bytes`;
    else if (target.startsWith('/')) reason = `symlink to an absolute path (${shown(target)})`;
    else if (climbsOut(segments.slice(0, -1), target)) reason = `symlink target ${shown(target)} leaves the workspace`;
    else reason = await this.parents(segments);
    if (reason === undefined && this.kinds.has(name)) reason = `already exists as a ${this.kinds.get(name)}`;
    if (reason !== undefined) return this.skip(name, reason);
    try {
      await symlink(target, path.join(this.tmp, name));
    } catch (e) {
      if (errno(e) === 'EEXIST') return this.skip(name, 'already exists');
      throw hostError(`symlink ${name}`, e);
    }
    this.kinds.set(name, 'symlink');
    this.linkTargets.set(name, target);
    this.links.push(segments);
  }

  /**
   * After the last entry: picks the root (stripping a wrapping top folder), removes links
   * that leave it through other links, and makes directories read-only. Returns the root.
   */
  async finish(signal: AbortSignal | undefined): Promise<string> {
    const top = this.topFolder;
    const strip = top !== false && this.allUnderTop && this.kinds.get(top) === 'dir';
    const prefix = strip ? `${top}/` : '';
    if (strip) this.stripped = top;
    const root = strip ? path.join(this.tmp, top) : this.tmp;

    const resolver = new LinkResolver(
      {
        kind: (rel) => (rel === '' ? 'dir' : this.kinds.get(prefix + rel)),
        linkTarget: (rel) => this.linkTargets.get(prefix + rel),
      },
      LINK_STEPS_PER_ENTRY * Math.max(this.limits.maxEntries, 1),
    );
    for (const segments of this.links) {
      signal?.throwIfAborted();
      const name = segments.join('/');
      const verdict = resolver.verdict(strip ? segments.slice(1) : segments);
      if (verdict === 'inside') continue;
      try {
        await unlink(path.join(this.tmp, name));
      } catch (e) {
        throw hostError(`unlink ${name}`, e);
      }
      this.skip(
        name,
        verdict === 'outside'
          ? `symlink target ${shown(this.linkTargets.get(name) ?? '')} resolves outside the workspace through other links`
          : 'symlink not verified: too many link lookups in this archive',
      );
      this.kinds.delete(name);
      this.linkTargets.delete(name);
    }

    // Any order will do: chmod needs no write permission on the parent.
    for (const [rel, mode] of this.dirModes) {
      signal?.throwIfAborted();
      try {
        await chmodDirectory(path.join(this.tmp, rel), dirMode(mode));
      } catch (e) {
        throw hostError(`chmod ${rel || '.'}`, e);
      }
    }
    return root;
  }

  stats(): Omit<SnapshotStats, 'durationMs'> {
    return {
      entries: this.entries,
      files: this.files,
      directories: this.directories,
      symlinks: this.linkTargets.size,
      skipped: this.skippedCount,
      bytesWritten: this.bytesWritten,
      archiveBytes: this.archiveBytes,
      skippedFileBytes: this.skippedFileBytes,
      strippedTopFolder: this.stripped,
    };
  }

  /** `path: reason` lines, paths relative to the snapshot root when they can be. */
  skippedLines(): string[] {
    const prefix = this.stripped === null ? null : `${this.stripped}/`;
    const lines = this.skipped.map(({ name, reason }) => {
      let shownName = name.replace(/^(\.\/)+/, '');
      if (prefix !== null && shownName.startsWith(prefix)) shownName = shownName.slice(prefix.length);
      return `${shown(shownName || '.')}: ${reason}`;
    });
    if (this.skippedCount > this.skipped.length) lines.push(`… and ${this.skippedCount - this.skipped.length} more entries skipped`);
    return lines;
  }
}
