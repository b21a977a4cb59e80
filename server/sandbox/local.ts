/**
 * The local driver: a real bash on this host, in a temporary directory, with no
 * isolation at all (`isolates: false`). It serves tests and lab authors (`opslab lab
 * test`) and runs the driver contract suite in seconds without a container engine.
 *
 * On disk, `<rootDir>/<sessionId>/` holds `workspace/` (the candidate's cwd), `home/`
 * ($HOME) and `meta.json` ({sessionId, ownerId, createdAt}); `list` and `reap` find the
 * sandboxes of this installation by it and never touch another owner's. Shells live in
 * this process: after a restart, sandboxes found on disk are listed as not running, and
 * only `list`, `reap` and `destroy` apply to them.
 *
 * Differences from a real sandbox, by design:
 *   - `exec`/`execGrader` ignore `user`: everything runs as the server's own user;
 *   - the grader's view of the workspace is not read-only; `execGrader` differs from
 *     `exec` only in not getting the lab's `spec.env`;
 *   - paths are host paths: the workspace is not at `/workspace`. An exec `cwd` of
 *     `/workspace[/...]` is mapped to the local workspace, but arguments are not.
 *   - `image`, `network`, `resources` and `capAdd` of the spec are ignored.
 *
 * `exec`: past `timeoutMs` the command's process group is killed and the result is
 * `timedOut` with exit code 124; an aborted `signal` kills it and rejects with the
 * signal's reason; a missing program gives exit code 127, as in a shell.
 */
import { mkdir, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { AppError, describeError } from '../errors.js';
import type {
  ExecOptions,
  ExecResult,
  SandboxDriver,
  SandboxInfo,
  SandboxRef,
  SandboxSpec,
  TermSize,
  TtyAttachment,
} from './driver.js';
import { packDirectory } from './tar-pack.js';
import { copyDirContents } from './local-copy.js';
import { runLocalCommand } from './local-exec.js';
import { killMarkedProcesses, SANDBOX_MARKER_VAR } from './local-procs.js';
import { assertTermSize, killGroup, PersistentShell } from './local-shell.js';

export interface LocalDriverOptions {
  /** Where the sandbox directories go, e.g. `<dataDir>/local-sandboxes`. */
  rootDir: string;
  /** This installation's id; sandboxes of other owners under `rootDir` are left alone. */
  ownerId: string;
  logger?: Logger;
  /**
   * The host environment the shell and commands take PATH, locale, TZ and user name from;
   * `process.env` when not given (read at construction, never at import). Nothing else of
   * it is passed on, so the server's secrets do not reach the candidate's shell.
   */
  hostEnv?: Readonly<Record<string, string | undefined>>;
  /** The shell program; `bash` by default. */
  shell?: string;
  /** Bytes of shell output kept for `openTty`'s history; 16 MiB by default. */
  historyBytes?: number;
}

interface LocalSandbox {
  ref: SandboxRef;
  dir: string;
  workspace: string;
  /** Environment of the shell and of `exec`; `graderEnv` lacks the lab's `spec.env`. */
  env: Record<string, string>;
  graderEnv: Record<string, string>;
  shell: PersistentShell;
  /** Process groups of commands running now. */
  running: Set<number>;
}

interface SandboxMeta {
  sessionId: string;
  ownerId: string;
  createdAt: string;
}

const DEFAULT_HISTORY_BYTES = 16 * 1024 * 1024;
const PASSED_HOST_VARS = ['PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'USER', 'LOGNAME', 'TMPDIR'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PROMPT = 'candidate@opslab-local:\\w$ ';
/** Session ids name directories: keep them to one safe path segment. */
const SESSION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class LocalDriver implements SandboxDriver {
  readonly kind = 'local' as const;
  readonly isolates = false;
  readonly runsRoot: boolean = true;

  private readonly rootDir: string;
  private readonly ownerId: string;
  private readonly logger: Logger | undefined;
  private readonly baseEnv: Record<string, string>;
  private readonly shellProgram: string;
  private readonly historyBytes: number;
  private readonly sandboxes = new Map<string, LocalSandbox>();
  private readonly destroying = new Map<string, Promise<void>>();

  constructor(options: LocalDriverOptions) {
    this.rootDir = path.resolve(options.rootDir);
    this.ownerId = options.ownerId;
    this.logger = options.logger?.child({ driver: 'local' });
    this.shellProgram = options.shell ?? 'bash';
    this.historyBytes = options.historyBytes ?? DEFAULT_HISTORY_BYTES;
    this.baseEnv = { PATH: DEFAULT_PATH };
    const hostEnv = options.hostEnv ?? process.env;
    for (const name of PASSED_HOST_VARS) {
      const value = hostEnv[name];
      if (value !== undefined) this.baseEnv[name] = value;
    }
  }

  async create(spec: SandboxSpec, options: { signal?: AbortSignal } = {}): Promise<SandboxRef> {
    const { sessionId } = spec;
    assertSessionId(sessionId);
    assertTermSize(spec.size);
    options.signal?.throwIfAborted();
    if (this.sandboxes.has(sessionId)) throw new AppError('WRONG_STATE', `sandbox for session ${sessionId} already exists`);
    await mkdir(this.rootDir, { recursive: true, mode: 0o700 });
    const dir = this.sandboxDir(sessionId);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new AppError('WRONG_STATE', `sandbox for session ${sessionId} already exists`);
      throw new AppError('SANDBOX_FAILED', `cannot create sandbox directory: ${describeError(e)}`, { cause: e });
    }
    try {
      const meta: SandboxMeta = { sessionId, ownerId: this.ownerId, createdAt: new Date().toISOString() };
      await writeFile(path.join(dir, 'meta.json'), `${JSON.stringify(meta)}\n`, { flag: 'wx' });
      const workspace = path.join(dir, 'workspace');
      const home = path.join(dir, 'home');
      await mkdir(workspace);
      await mkdir(home);
      options.signal?.throwIfAborted();

      const marker = { [SANDBOX_MARKER_VAR]: this.marker(sessionId) };
      const common = { ...this.baseEnv, HOME: home };
      const env = { ...common, ...spec.env, ...marker };
      const shell = new PersistentShell({
        command: this.shellProgram,
        args: ['--noprofile', '--norc', '-i'],
        cwd: workspace,
        env: { ...common, SHELL: this.shellProgram, TERM: 'xterm-256color', PS1: PROMPT, ...spec.env, ...marker },
        size: spec.size,
        historyBytes: this.historyBytes,
        logger: this.logger?.child({ sessionId }),
      });
      try {
        shell.start();
      } catch (e) {
        throw new AppError('SANDBOX_FAILED', `cannot start the shell: ${describeError(e)}`, { cause: e });
      }
      const ref: SandboxRef = { sessionId, driver: 'local', id: dir };
      this.sandboxes.set(sessionId, { ref, dir, workspace, env, graderEnv: { ...common, ...marker }, shell, running: new Set() });
      this.logger?.info({ sessionId, dir }, 'local sandbox created');
      return ref;
    } catch (e) {
      await removeTree(dir).catch((err: unknown) => this.logger?.warn({ err, dir }, 'cleanup after a failed create'));
      throw e;
    }
  }

  async openTty(ref: SandboxRef, size: TermSize): Promise<TtyAttachment> {
    const sandbox = this.live(ref);
    assertTermSize(size);
    return sandbox.shell.attach(size);
  }

  async exec(ref: SandboxRef, cmd: string[], options?: ExecOptions): Promise<ExecResult> {
    const sandbox = this.live(ref);
    return runLocalCommand(cmd, { workspace: sandbox.workspace, env: sandbox.env, running: sandbox.running }, options);
  }

  async execGrader(ref: SandboxRef, cmd: string[], options?: ExecOptions): Promise<ExecResult> {
    const sandbox = this.live(ref);
    return runLocalCommand(cmd, { workspace: sandbox.workspace, env: sandbox.graderEnv, running: sandbox.running }, options);
  }

  async copyIn(ref: SandboxRef, hostDir: string): Promise<void> {
    const sandbox = this.live(ref);
    await copyDirContents(hostDir, sandbox.workspace, this.logger);
  }

  archive(ref: SandboxRef): Promise<NodeJS.ReadableStream> {
    const sandbox = this.live(ref);
    // uid/gid as in a real sandbox; the checker treats the stream as untrusted either way.
    return Promise.resolve(packDirectory(sandbox.workspace, { uid: 1000, gid: 1000 }));
  }

  destroy(ref: SandboxRef): Promise<void> {
    if (ref.driver !== 'local' || !SESSION_ID_RE.test(ref.sessionId) || ref.id !== this.sandboxDir(ref.sessionId)) {
      return Promise.resolve();
    }
    const { sessionId } = ref;
    const pending = this.destroying.get(sessionId);
    if (pending !== undefined) return pending;
    const done = this.destroySession(sessionId).finally(() => this.destroying.delete(sessionId));
    this.destroying.set(sessionId, done);
    return done;
  }

  async list(selector: { sessionId?: string } = {}): Promise<SandboxInfo[]> {
    const infos = new Map<string, SandboxInfo>();
    for (const meta of await this.readOwnMetas()) {
      if (selector.sessionId !== undefined && meta.sessionId !== selector.sessionId) continue;
      const live = this.sandboxes.get(meta.sessionId);
      infos.set(meta.sessionId, {
        ref: { sessionId: meta.sessionId, driver: 'local', id: this.sandboxDir(meta.sessionId) },
        running: live?.shell.running ?? false,
      });
    }
    // A live sandbox whose directory someone removed is still ours to report (and reap).
    for (const [sessionId, sandbox] of this.sandboxes) {
      if (infos.has(sessionId) || (selector.sessionId !== undefined && sessionId !== selector.sessionId)) continue;
      infos.set(sessionId, { ref: sandbox.ref, running: sandbox.shell.running });
    }
    return [...infos.values()];
  }

  async reap(liveSessionIds: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const info of await this.list()) {
      if (liveSessionIds.has(info.ref.sessionId)) continue;
      try {
        await this.destroy(info.ref);
        removed.push(info.ref.sessionId);
      } catch (e) {
        this.logger?.error({ err: e, sessionId: info.ref.sessionId }, 'reap could not remove a sandbox');
      }
    }
    if (removed.length > 0) this.logger?.info({ removed }, 'reaped local sandboxes');
    return removed;
  }

  private async destroySession(sessionId: string): Promise<void> {
    const dir = this.sandboxDir(sessionId);
    const sandbox = this.sandboxes.get(sessionId);
    if (sandbox !== undefined) {
      this.sandboxes.delete(sessionId);
      await sandbox.shell.dispose('sandbox destroyed');
      for (const pgid of sandbox.running) killGroup(pgid, 'SIGKILL');
    } else {
      const meta = await readMeta(dir);
      if (meta?.ownerId !== this.ownerId) return; // missing, or not ours
    }
    // What escaped the shell's hangup (nohup, setsid), also from before a restart.
    await killMarkedProcesses(this.marker(sessionId));
    await removeTree(dir);
    this.logger?.info({ sessionId }, 'local sandbox destroyed');
  }

  /** The live sandbox behind a ref, or NOT_FOUND. */
  private live(ref: SandboxRef): LocalSandbox {
    const sandbox = ref.driver === 'local' ? this.sandboxes.get(ref.sessionId) : undefined;
    if (sandbox === undefined || sandbox.ref.id !== ref.id || !sandbox.shell.running) {
      throw new AppError('NOT_FOUND', `no running local sandbox for session ${ref.sessionId}`);
    }
    return sandbox;
  }

  private async readOwnMetas(): Promise<SandboxMeta[]> {
    let names: string[];
    try {
      names = await readdir(this.rootDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const metas = await Promise.all(
      names.filter((name) => SESSION_ID_RE.test(name)).map(async (name) => {
        const meta = await readMeta(this.sandboxDir(name));
        // A directory only counts under its own session id.
        return meta?.ownerId === this.ownerId && meta.sessionId === name ? meta : undefined;
      }),
    );
    return metas.filter((meta) => meta !== undefined);
  }

  private sandboxDir(sessionId: string): string {
    return path.join(this.rootDir, sessionId);
  }

  private marker(sessionId: string): string {
    return `${this.ownerId}/${sessionId}`;
  }
}

async function readMeta(dir: string): Promise<SandboxMeta | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as Partial<SandboxMeta>;
    if (typeof parsed.sessionId !== 'string' || typeof parsed.ownerId !== 'string') return undefined;
    return { sessionId: parsed.sessionId, ownerId: parsed.ownerId, createdAt: String(parsed.createdAt) };
  } catch {
    return undefined;
  }
}

/** `rm -rf`, also through directories the candidate made read-only. */
async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw e;
    await makeDirsWritable(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function makeDirsWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await makeDirsWritable(path.join(dir, entry.name));
  }
}

function assertSessionId(sessionId: string): void {
  if (!SESSION_ID_RE.test(sessionId)) {
    throw new AppError('VALIDATION', `session id ${JSON.stringify(sessionId)} is not usable as a directory name`);
  }
}
