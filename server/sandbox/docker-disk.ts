/**
 * Size-limited disks for sandboxes. Docker's overlay2 ignores `--storage-opt size` on
 * ext4 hosts and XFS project quotas are rarely set up, so a candidate writing to a plain
 * named volume fills the host's disk. Instead each disk is a sparse ext4 image file on
 * the host, attached to a loop device, and mounted by the engine as a `local` volume
 * (`type=ext4, device=/dev/loopN`): writing past its size is ENOSPC inside the sandbox,
 * and the image never takes more of the host than its size.
 *
 *   image file      <dir>/<session id>.<name>.img  (sparse; created 0600, root only)
 *   file system     ext4, no reserved blocks, root directory owned by the candidate,
 *                   lost+found removed (an empty volume: the engine copies the image's
 *                   files in, e.g. the home directory's dotfiles). Made once per size
 *                   (mkfs.ext4, debugfs) as <template dir>/.template-<MB>m-<format>.img
 *                   and kept, then copied for each sandbox with `cp --sparse=always`
 *                   (about a megabyte of metadata, no fsync: a few ms instead of tens;
 *                   the copies share the template's UUID, and nothing mounts by UUID)
 *   loop device     losetup --find --show, one at a time; detached before the image
 *                   is deleted
 *
 * Everything runs with execFile and fixed arguments (no shell); the paths come from
 * validated session ids. Needs root, the host's loop devices and e2fsprogs, and an
 * engine on this host (its mounts name this host's /dev/loopN). `probeHostDisks` checks
 * all of it once at start with a real image and loop device, and says why when it cannot.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CANDIDATE_UID } from './driver.js';

const run = promisify(execFile);

export interface DiskLimitStatus {
  enabled: boolean;
  /** What is limited and where the images are, or why sandboxes get unlimited volumes. */
  detail: string;
}

/** The host programs the disks need (coreutils, e2fsprogs and util-linux). */
export const DISK_TOOLS = ['cp', 'mkfs.ext4', 'debugfs', 'losetup'] as const;
type Tool = (typeof DISK_TOOLS)[number];

/** Where the tools are looked for besides PATH (a server started without sbin on PATH). */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];
const IMAGE_SUFFIX = '.img';
const TIMEOUT_MS = 30_000;
/** A loop device as losetup prints it. */
const LOOP_DEVICE = /^\/dev\/loop\d+$/;
/** Image names: `<session id>.<disk name>.img`; the session id may itself hold dots. */
const DISK_NAME = /^[a-z]+$/;
const OWNER = `${CANDIDATE_UID}:${CANDIDATE_UID}`;
/** How templates are made; their names carry its hash, so a change never reuses an old one. */
const MKFS_ARGS = ['-q', '-F', '-m', '0', '-E', `lazy_itable_init=1,lazy_journal_init=1,root_owner=${OWNER}`];
const DEBUGFS_REQUEST = 'rmdir lost+found';
const FORMAT = createHash('sha256').update(JSON.stringify([MKFS_ARGS, DEBUGFS_REQUEST])).digest('hex').slice(0, 8);

export interface ProbeOptions {
  /** The directory for this installation's images (absolute); created if missing. */
  dir: string | undefined;
  /** Where the formatted templates are kept (absolute; shared by installations); defaults to `dir`. */
  templateDir?: string;
  /** Whether the engine runs on this host (a unix socket, not tcp:// or ssh://). */
  localEngine: boolean;
  /** The server's uid; defaults to process.getuid(). */
  uid?: number;
  /** Directories to find the tools in; defaults to PATH plus the usual sbin and bin folders. */
  searchPath?: readonly string[];
}

function findTool(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    if (!path.isAbsolute(dir)) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function commandError(tool: string, args: readonly string[], e: unknown): Error {
  const err = e as { stderr?: string; message?: string };
  const why = (err.stderr || err.message || String(e)).trim().slice(0, 500);
  return new Error(`${path.basename(tool)} ${args.join(' ')}: ${why}`, { cause: e });
}

/**
 * Decides whether sandboxes get size-limited disks here, and proves it by making,
 * attaching and removing a small image. Never throws: the status says what happened.
 */
export async function probeHostDisks(options: ProbeOptions): Promise<{ status: DiskLimitStatus; disks?: HostDisks }> {
  const off = (detail: string) => ({
    status: { enabled: false, detail: `${detail}; workspaces are plain volumes without a size limit (a candidate can fill the host's disk)` },
  });
  if (!options.dir) return off('no directory for disk images was given');
  if (!options.localEngine) return off('the Docker engine is remote: loop devices made on this host do not exist on its host');
  const uid = options.uid ?? process.getuid?.();
  if (uid !== 0) return off('not running as root: cannot attach loop devices');
  const dirs = options.searchPath ?? [...(process.env['PATH'] ?? '').split(path.delimiter), ...SYSTEM_DIRS];
  const tools: Partial<Record<Tool, string>> = {};
  const missing: string[] = [];
  for (const name of DISK_TOOLS) {
    const found = findTool(name, dirs);
    if (found) tools[name] = found;
    else missing.push(name);
  }
  if (missing.length) return off(`missing ${missing.join(', ')} (Debian: apt-get install coreutils e2fsprogs mount)`);
  try {
    const templateDir = options.templateDir ?? options.dir;
    await fs.promises.mkdir(templateDir, { recursive: true, mode: 0o700 });
    await fs.promises.mkdir(options.dir, { recursive: true, mode: 0o700 });
    const disks = new HostDisks(await fs.promises.realpath(options.dir), tools as Record<Tool, string>, await fs.promises.realpath(templateDir));
    await disks.selfTest();
    return {
      status: { enabled: true, detail: `sandbox workspaces and homes are size-limited ext4 filesystems on loop devices (images in ${disks.dir})` },
      disks,
    };
  } catch (e) {
    return off(`loop-device disks do not work here: ${(e instanceof Error ? e.message : String(e)).slice(0, 500)}`);
  }
}

interface LoopDevice {
  device: string;
  /** The backing file as the kernel reports it, without a trailing " (deleted)". */
  file: string;
  deleted: boolean;
}

/** An image file of this directory, by the session and disk it belongs to. */
export interface DiskImage {
  file: string;
  sessionId: string;
  name: string;
  mtimeMs: number;
}

export class HostDisks {
  /** A formatted empty image per size, made on first use. */
  private readonly templates = new Map<number, Promise<string>>();
  /** Attaches run one at a time: two at once are offered the same free device, and the loser sleeps 200 ms in losetup. */
  private attaching: Promise<unknown> = Promise.resolve();

  constructor(
    /** Absolute, symlinks resolved (the kernel reports loop backing files that way). */
    readonly dir: string,
    private readonly tools: Record<Tool, string>,
    private readonly templateDir: string = dir,
  ) {}

  /** The image of one disk of one session (the session id is validated by the driver). */
  imagePath(sessionId: string, name: string): string {
    if (!DISK_NAME.test(name) || sessionId.includes('/') || sessionId.startsWith('.')) {
      throw new Error(`cannot name a disk image for ${JSON.stringify(sessionId)}/${JSON.stringify(name)}`);
    }
    return path.join(this.dir, `${sessionId}.${name}${IMAGE_SUFFIX}`);
  }

  private async exec(tool: Tool, args: string[]): Promise<{ stdout: string; stderr: string }> {
    try {
      return await run(this.tools[tool], args, { timeout: TIMEOUT_MS, encoding: 'utf8' });
    } catch (e) {
      throw commandError(this.tools[tool], args, e);
    }
  }

  /**
   * Makes a sparse ext4 image of `sizeMb` owned by the candidate and attaches it to a
   * free loop device, which it returns. Refuses to reuse an existing file. On failure
   * it may leave the file (and a device): `remove` cleans up either way.
   */
  async create(file: string, sizeMb: number): Promise<string> {
    const template = await this.template(Math.round(sizeMb));
    // Claim the name first (fails if it exists), then copy over the empty file, holes kept.
    await (await fs.promises.open(file, 'wx', 0o600)).close();
    await this.exec('cp', ['--sparse=always', template, file]);
    const attach = () => this.exec('losetup', ['--find', '--show', file]);
    const done = this.attaching.then(attach, attach);
    this.attaching = done.catch(() => undefined);
    const { stdout } = await done;
    const device = stdout.trim();
    if (!LOOP_DEVICE.test(device)) throw new Error(`losetup --find --show ${file} printed ${JSON.stringify(stdout.slice(0, 200))}`);
    return device;
  }

  private template(sizeMb: number): Promise<string> {
    let made = this.templates.get(sizeMb);
    if (!made) {
      made = this.makeTemplate(sizeMb);
      this.templates.set(sizeMb, made);
      made.catch(() => this.templates.delete(sizeMb));
    }
    return made;
  }

  /** The template of a size: one made earlier (by any process: it is renamed into place whole), or a new one. */
  private async makeTemplate(sizeMb: number): Promise<string> {
    const file = path.join(this.templateDir, `.template-${sizeMb}m-${FORMAT}${IMAGE_SUFFIX}`);
    const made = await fs.promises.lstat(file).catch(() => undefined);
    if (made?.isFile() && made.size === sizeMb * 1024 * 1024) return file;
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await this.format(tmp, sizeMb);
      await fs.promises.rename(tmp, file);
      return file;
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  }

  /** A new sparse file of `sizeMb` holding an empty ext4 file system owned by the candidate. */
  private async format(file: string, sizeMb: number): Promise<void> {
    const handle = await fs.promises.open(file, 'wx', 0o600);
    try {
      await handle.truncate(sizeMb * 1024 * 1024);
    } finally {
      await handle.close();
    }
    // Lazy init: inode tables and the journal are not zeroed (a sparse file reads as zeros).
    await this.exec('mkfs.ext4', [...MKFS_ARGS, file]);
    // debugfs exits 0 even when its request fails; anything besides its banner is an error.
    const { stderr } = await this.exec('debugfs', ['-w', '-R', DEBUGFS_REQUEST, file]);
    const problems = stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l));
    if (problems.length) throw new Error(`debugfs ${DEBUGFS_REQUEST} ${file}: ${problems.join('; ').slice(0, 500)}`);
  }

  /** Loop devices whose backing file is in this directory (deleted files included). */
  async loops(): Promise<LoopDevice[]> {
    const { stdout } = await this.exec('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
    if (stdout.trim() === '') return [];
    const parsed = JSON.parse(stdout) as { loopdevices?: { name?: unknown; 'back-file'?: unknown }[] };
    const out: LoopDevice[] = [];
    for (const d of parsed.loopdevices ?? []) {
      if (typeof d.name !== 'string' || typeof d['back-file'] !== 'string') continue;
      const raw = d['back-file'];
      const deleted = raw.endsWith(' (deleted)');
      const file = deleted ? raw.slice(0, -' (deleted)'.length) : raw;
      if (path.dirname(file) === this.dir && LOOP_DEVICE.test(d.name)) out.push({ device: d.name, file, deleted });
    }
    return out;
  }

  /**
   * Detaches every loop device backed by one of `files`, then deletes the files.
   * Idempotent. A device still mounted is detached by the kernel once unmounted.
   */
  async remove(files: readonly string[]): Promise<void> {
    if (files.length === 0) return;
    const wanted = new Set(files);
    for (const loop of await this.loops()) {
      if (wanted.has(loop.file)) await this.detach(loop.device);
    }
    for (const file of files) await fs.promises.rm(file, { force: true });
  }

  async detach(device: string): Promise<void> {
    try {
      await this.exec('losetup', ['--detach', device]);
    } catch (e) {
      // Detached already (by another cleanup, or autoclear after an unmount).
      if (!/No such device/i.test(e instanceof Error ? e.message : '')) throw e;
    }
  }

  /** The images in this directory, by the session they belong to. */
  async images(): Promise<DiskImage[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: DiskImage[] = [];
    for (const entry of names) {
      const m = /^(.+)\.([a-z]+)\.img$/.exec(entry);
      if (!m || entry.startsWith('.')) continue;
      const file = path.join(this.dir, entry);
      const stat = await fs.promises.lstat(file).catch(() => undefined);
      if (!stat?.isFile()) continue;
      out.push({ file, sessionId: m[1] as string, name: m[2] as string, mtimeMs: stat.mtimeMs });
    }
    return out;
  }

  /** Makes (or reuses) a small template, copies, attaches, detaches and deletes an image: proves every step works here. */
  async selfTest(): Promise<void> {
    // Probes an earlier process was killed in the middle of.
    for (const entry of await fs.promises.readdir(this.dir)) {
      if (entry.startsWith('.probe-')) await this.remove([path.join(this.dir, entry)]);
    }
    const file = path.join(this.dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}${IMAGE_SUFFIX}`);
    try {
      await this.create(file, 16);
    } finally {
      await this.remove([file]);
    }
  }
}
