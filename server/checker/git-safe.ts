/**
 * Runs the host's `git` over a snapshot of the candidate's workspace without letting the
 * candidate's repository run anything or read anything outside the snapshot.
 *
 * The snapshot's `.git` is hostile: the candidate controls every byte of it. Git executes
 * programs named in config (core.fsmonitor, core.hooksPath, filter.<x>.clean/smudge/process,
 * diff.<x>.textconv, diff.external, core.pager, core.sshCommand, credential helpers,
 * gpg.program, ...), follows `include.path`/`includeIf` to other files, moves the work tree
 * with `core.worktree`, borrows objects through `objects/info/alternates`, and rewrites
 * history through grafts, `shallow` and replace refs. Overriding each dangerous key with
 * `-c` is a deny-list: it misses the next key git learns to execute, cannot undo an
 * `include.path`, and leaves correctness knobs (core.ignoreStat, core.worktree) to the
 * candidate.
 *
 * So the candidate's config is never given to git at all (the strongest option that still
 * lets `log`, `diff`, `status` work). Each repository is opened through a *shadow* git
 * directory, a fresh temp dir of ours:
 *
 *   shadow/config       written by us (below); the candidate's `.git/config` is never read
 *   shadow/HEAD         copied (a regular file, a few bytes)
 *   shadow/refs/**, shadow/packed-refs
 *                       copied (regular files only; symlinks skipped), so the branch and
 *                       the commits are the candidate's, and nothing else is
 *   shadow/info/exclude copied: the candidate's own ignore list, data only
 *   objects             used in place through GIT_OBJECT_DIRECTORY, after checking it is a
 *                       real directory with no symlinks or special files in it and no
 *                       `info/alternates` (which would read objects from outside)
 *   index               used in place through GIT_INDEX_FILE (or a scratch index of ours)
 *   worktree            the snapshot itself, through GIT_WORK_TREE
 *
 * Deliberately not carried over: config (and with it every include, filter, textconv,
 * hook path, fsmonitor, worktree, alias), hooks/, info/attributes, info/grafts, shallow,
 * commondir, worktrees/, modules/, logs/. Replace refs are copied with refs/ but ignored
 * (GIT_NO_REPLACE_OBJECTS). The in-tree `.gitattributes` is still read, but the drivers it
 * names (filter=x, diff=x) are only defined in config, which is ours: nothing to run.
 *
 * On top of that, the `-c` settings and the environment below are defence in depth (in
 * case system/global config or a future code path leaks in); each has its reason inline.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OutputCollector } from '../sandbox/exec-output.js';

export interface GitRunOptions {
  /** Kill git after this long (default 20 s); the result then has `timedOut: true`, code 124. */
  timeoutMs?: number;
  /** Keep at most this many bytes of each of stdout and stderr (default 4 MiB). */
  maxOutputBytes?: number;
  /** Aborting kills git and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SafeGitRunOptions extends GitRunOptions {
  /**
   * Which index git sees: the candidate's own `.git/index` (default), or a scratch index
   * of ours in the shadow dir (fill it first with `read-tree HEAD`). The scratch index
   * has no assume-unchanged/skip-worktree bits and no stat data, so `status` with it
   * compares every file's content with HEAD and cannot be talked out of it.
   */
  index?: 'workspace' | 'scratch';
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** True when stdout or stderr was cut at `maxOutputBytes`. */
  truncated: boolean;
}

/**
 * The snapshot is not a repository git can be run on safely. `kind` tells the caller
 * whether there is no repository at all or one we refuse to read; `message` is written
 * for the candidate.
 */
export class GitRepoError extends Error {
  constructor(
    readonly kind: 'not-a-repo' | 'refused',
    message: string,
  ) {
    super(message);
    this.name = 'GitRepoError';
  }
}

export interface SafeGitRepo {
  /** The work tree (the snapshot directory). */
  readonly worktree: string;
  run(args: readonly string[], options?: SafeGitRunOptions): Promise<GitResult>;
  /** Removes the shadow directory. */
  dispose(): Promise<void>;
}

export const GIT_DEFAULT_TIMEOUT_MS = 20_000;
export const GIT_DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const TIMEOUT_EXIT_CODE = 124;

/** Limits on what is copied out of (or walked in) the hostile `.git`. */
const LIMITS = {
  headBytes: 4096,
  refBytes: 4096,
  refEntries: 10_000,
  refDepth: 32,
  packedRefsBytes: 32 * 1024 * 1024,
  excludeBytes: 1024 * 1024,
  objectEntries: 200_000,
};

/**
 * Our config for the shadow git dir. Only what git needs to treat it as a plain,
 * non-bare sha1 repository (the format the starter creates; a repository re-created
 * with another object format is not the one the exercise started from anyway).
 */
const SHADOW_CONFIG = '[core]\n\trepositoryformatversion = 0\n\tbare = false\n';

/**
 * Command-line config. Command-line settings win over every config file, so these hold
 * even if some config file were read after all.
 */
const CONFIG_ARGS: readonly string[] = [
  // Hooks: read-only commands run none, but point hooks at nothing in case one ever does.
  ['core.hooksPath', '/dev/null'],
  // fsmonitor is a program git runs on `status`/`diff` (the classic "clone + status = RCE").
  ['core.fsmonitor', 'false'],
  // The untracked cache is data in the candidate's index that could hide untracked files.
  ['core.untrackedCache', 'false'],
  // Commit-graph files are a cache of parents/generations that git trusts instead of the
  // commit objects; a forged one could fake ancestry of the start commit. Parse commits.
  ['core.commitGraph', 'false'],
  // Replace refs (`git replace`) substitute objects: ignore them (also GIT_NO_REPLACE_OBJECTS).
  ['core.useReplaceRefs', 'false'],
  // Modes in the snapshot depend on how it was extracted; content is what we judge.
  ['core.fileMode', 'false'],
  // No pager, no editor: nothing interactive, nothing executed for output or input.
  ['core.pager', 'cat'],
  ['core.editor', 'true'],
  ['sequence.editor', 'true'],
  // diff.external is left unset rather than set to "": git 2.39 then tries to run an
  // empty command and fails every diff. Our config defines no external diff, no
  // diff.<driver>.command and no textconv; the checks also pass --no-ext-diff --no-textconv.

  // Never talk to a remote: no transport (lazy fetches of a partial clone, submodules),
  // so no core.gitProxy or ssh command ever runs; and no credential helper or askpass.
  ['protocol.allow', 'never'],
  ['core.sshCommand', 'false'],
  ['credential.helper', ''],
  ['core.askPass', 'true'],
  // Signature verification runs gpg/ssh-keygen: never show or check signatures.
  ['gpg.program', 'false'],
  ['gpg.ssh.program', 'false'],
  ['log.showSignature', 'false'],
  // Submodules would make git run itself inside another (candidate-made) repository.
  ['submodule.recurse', 'false'],
  ['diff.ignoreSubmodules', 'all'],
  ['status.submoduleSummary', 'false'],
  // No automatic maintenance (gc, commit-graph writes): read-only means read-only.
  ['gc.auto', '0'],
  ['maintenance.auto', 'false'],
  // Stable, machine-readable output.
  ['color.ui', 'never'],
  ['core.quotePath', 'false'],
  ['i18n.logOutputEncoding', 'UTF-8'],
  // The snapshot files are owned by us, and GIT_DIR is explicit (no discovery), but make
  // the ownership check a non-issue whichever user extracted the snapshot.
  ['safe.directory', '*'],
].flatMap(([k, v]) => ['-c', `${k}=${v}`]);

/**
 * The PATH git runs with: the server's own absolute entries only. A relative or empty
 * entry would resolve against the working directory, so it is dropped (and git's working
 * directory is the shadow dir, never the workspace).
 */
function trustedPath(exclude: string): string {
  const entries = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => path.isAbsolute(p) && !isInside(p, exclude));
  return (entries.length > 0 ? entries : ['/usr/local/bin', '/usr/bin', '/bin']).join(path.delimiter);
}

/** An absolute path to git, found on the trusted PATH (never in the workspace). */
async function findGit(searchPath: string): Promise<string> {
  for (const dir of searchPath.split(path.delimiter)) {
    const candidate = path.join(dir, 'git');
    try {
      const st = await fsp.stat(candidate);
      if (!st.isFile()) continue;
      await fsp.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('git is not installed on the host (not found on PATH)');
}

function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

type Kind = 'file' | 'dir' | 'symlink' | 'other' | 'missing';

async function kindOf(p: string): Promise<{ kind: Kind; size: number }> {
  try {
    const st = await fsp.lstat(p);
    const kind: Kind = st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    return { kind, size: st.size };
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return { kind: 'missing', size: 0 };
    throw e;
  }
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}

/** Copies a regular file (never through a symlink) if it is there and small enough. */
async function copySmallFile(from: string, to: string, maxBytes: number, what: string): Promise<boolean> {
  const { kind, size } = await kindOf(from);
  if (kind === 'missing') return false;
  if (kind !== 'file') throw new GitRepoError('refused', `the repository's ${what} is not a regular file`);
  if (size > maxBytes) throw new GitRepoError('refused', `the repository's ${what} is too large (${size} bytes)`);
  const fh = await fsp.open(from, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > maxBytes) throw new GitRepoError('refused', `the repository's ${what} is too large`);
    await fsp.mkdir(path.dirname(to), { recursive: true });
    await fsp.writeFile(to, buf.subarray(0, bytesRead), { flag: 'wx' });
    return true;
  } finally {
    await fh.close();
  }
}

/** Copies `refs/` as plain directories and small regular files; anything else is skipped. */
async function copyRefs(from: string, to: string): Promise<void> {
  let entries = 0;
  const walk = async (src: string, dst: string, depth: number): Promise<void> => {
    await fsp.mkdir(dst, { recursive: true });
    if (depth > LIMITS.refDepth) return;
    for (const d of await fsp.readdir(src, { withFileTypes: true })) {
      if (++entries > LIMITS.refEntries) throw new GitRepoError('refused', 'the repository has too many refs');
      const s = path.join(src, d.name);
      const t = path.join(dst, d.name);
      if (d.isDirectory()) await walk(s, t, depth + 1);
      else if (d.isFile()) await copySmallFile(s, t, LIMITS.refBytes, `ref ${path.relative(from, s)}`);
      // Symlinks and special files are left out: a ref is a small regular file.
    }
  };
  const { kind } = await kindOf(from);
  if (kind === 'dir') await walk(from, to, 0);
  else await fsp.mkdir(to, { recursive: true });
}

/** The object store must be a real tree of regular files, with nothing that points elsewhere. */
async function checkObjects(objects: string): Promise<void> {
  const { kind } = await kindOf(objects);
  if (kind !== 'dir') throw new GitRepoError('not-a-repo', 'this is not a git repository any more (.git/objects is missing)');
  if ((await kindOf(path.join(objects, 'info', 'alternates'))).kind !== 'missing') {
    throw new GitRepoError('refused', 'the repository borrows objects from elsewhere (.git/objects/info/alternates); remove that file');
  }
  let entries = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
      if (++entries > LIMITS.objectEntries) throw new GitRepoError('refused', 'the repository has too many files in .git/objects');
      const p = path.join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else if (!d.isFile()) {
        throw new GitRepoError('refused', `the repository's object store holds a link or special file (${path.relative(objects, p)})`);
      }
    }
  };
  await walk(objects);
}

/**
 * Prepares a repository for safe reading. Throws `GitRepoError` when the snapshot has no
 * repository (`not-a-repo`) or one that cannot be read safely (`refused`).
 */
export async function openGitRepo(snapshotDir: string, options: { tmpDir?: string } = {}): Promise<SafeGitRepo> {
  const worktree = path.resolve(snapshotDir);
  const gitDir = path.join(worktree, '.git');
  const dotGit = await kindOf(gitDir);
  if (dotGit.kind === 'missing') throw new GitRepoError('not-a-repo', 'this is not a git repository any more (there is no .git folder)');
  if (dotGit.kind !== 'dir') {
    throw new GitRepoError(
      'refused',
      `.git is a ${dotGit.kind === 'symlink' ? 'symbolic link' : 'file'}, not a folder: the checker reads only a repository kept in the workspace's own .git folder`,
    );
  }
  const head = await kindOf(path.join(gitDir, 'HEAD'));
  if (head.kind === 'missing') throw new GitRepoError('not-a-repo', 'this is not a git repository any more (.git/HEAD is missing)');
  await checkObjects(path.join(gitDir, 'objects'));
  const index = await kindOf(path.join(gitDir, 'index'));
  if (index.kind !== 'missing' && index.kind !== 'file') throw new GitRepoError('refused', "the repository's index (.git/index) is not a regular file");

  const shadow = await fsp.mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'opslab-git-'));
  const dispose = () => fsp.rm(shadow, { recursive: true, force: true });
  try {
    const home = path.join(shadow, 'home');
    await fsp.mkdir(path.join(home, 'xdg'), { recursive: true });
    const shadowGit = path.join(shadow, 'git');
    await fsp.mkdir(shadowGit);
    await fsp.writeFile(path.join(shadowGit, 'config'), SHADOW_CONFIG, { flag: 'wx' });
    await copySmallFile(path.join(gitDir, 'HEAD'), path.join(shadowGit, 'HEAD'), LIMITS.headBytes, 'HEAD (.git/HEAD)');
    await copyRefs(path.join(gitDir, 'refs'), path.join(shadowGit, 'refs'));
    await copySmallFile(path.join(gitDir, 'packed-refs'), path.join(shadowGit, 'packed-refs'), LIMITS.packedRefsBytes, 'packed-refs');
    await copySmallFile(path.join(gitDir, 'info', 'exclude'), path.join(shadowGit, 'info', 'exclude'), LIMITS.excludeBytes, 'ignore list (.git/info/exclude)');

    const searchPath = trustedPath(worktree);
    const git = await findGit(searchPath);
    const baseEnv: Record<string, string> = {
      // Only what we set: nothing inherited (no GIT_* from the server's environment, no
      // GIT_CONFIG_PARAMETERS/COUNT, GIT_EXEC_PATH, GIT_ALTERNATE_OBJECT_DIRECTORIES, ...).
      PATH: searchPath,
      // An empty home of ours: no ~/.gitconfig, no ~/.config/git/{config,attributes,ignore}.
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, 'xdg'),
      // No system config (/etc/gitconfig) and no global config, whatever HOME says.
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_SYSTEM: '/dev/null',
      GIT_CONFIG_GLOBAL: '/dev/null',
      // No system-wide gitattributes (which could name filter or diff drivers).
      GIT_ATTR_NOSYSTEM: '1',
      // Explicit locations: no discovery, so no `.git` file (gitdir: elsewhere), no
      // core.worktree, no commondir can move git out of the snapshot.
      GIT_DIR: shadowGit,
      GIT_WORK_TREE: worktree,
      GIT_OBJECT_DIRECTORY: path.join(gitDir, 'objects'),
      // Never take locks or refresh the index on disk: the snapshot is read-only data.
      GIT_OPTIONAL_LOCKS: '0',
      // Never ask for anything, never fetch missing objects (partial clones, git >= 2.45).
      GIT_TERMINAL_PROMPT: '0',
      GIT_NO_LAZY_FETCH: '1',
      GIT_PROTOCOL_FROM_USER: '0',
      // Replace refs would substitute objects (faking history): ignore them.
      GIT_NO_REPLACE_OBJECTS: '1',
      // No pager or editor even if config somewhere asked for one.
      GIT_PAGER: 'cat',
      PAGER: 'cat',
      GIT_EDITOR: 'true',
      GIT_ASKPASS: 'true',
      SSH_ASKPASS: 'true',
      // Messages and dates that do not depend on the host's locale or zone.
      LC_ALL: 'C',
      LANG: 'C',
      TZ: 'UTC',
    };

    return {
      worktree,
      async run(args, runOptions = {}) {
        const env = {
          ...baseEnv,
          GIT_INDEX_FILE: runOptions.index === 'scratch' ? path.join(shadow, 'scratch-index') : path.join(gitDir, 'index'),
        };
        // `--no-pager` and `--no-optional-locks` say it again on the command line.
        return spawnGit(git, ['--no-pager', '--no-optional-locks', ...CONFIG_ARGS, ...args], env, shadow, runOptions);
      },
      dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** Opens the snapshot's repository, runs one git command in it safely and cleans up. */
export async function runGit(snapshotDir: string, args: readonly string[], options: SafeGitRunOptions = {}): Promise<GitResult> {
  const repo = await openGitRepo(snapshotDir);
  try {
    return await repo.run(args, options);
  } finally {
    await repo.dispose();
  }
}

function spawnGit(
  git: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
  options: GitRunOptions,
): Promise<GitResult> {
  const timeoutMs = options.timeoutMs ?? GIT_DEFAULT_TIMEOUT_MS;
  const maxOutputBytes = options.maxOutputBytes ?? GIT_DEFAULT_MAX_OUTPUT_BYTES;
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<GitResult>((resolve, reject) => {
    const stdout = new OutputCollector(maxOutputBytes);
    const stderr = new OutputCollector(maxOutputBytes);
    // No shell; stdin closed so nothing can wait for input; cwd is our shadow dir.
    const child = spawn(git, [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });
    let timedOut = false;
    let settled = false;
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      kill();
      finish(() => reject(abortReason(signal!)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (e) => finish(() => reject(e)));
    child.on('close', (code) => {
      finish(() =>
        resolve({
          code: timedOut ? TIMEOUT_EXIT_CODE : (code ?? 128),
          stdout: stdout.text(),
          stderr: stderr.text(),
          timedOut,
          truncated: stdout.truncated || stderr.truncated,
        }),
      );
    });
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}
