/**
 * The port between the platform and whatever runs sandboxes. Everything outside
 * server/sandbox/ sees only these types; only the adapters import an engine client.
 *
 * A sandbox is two parts that share a network namespace and the workspace:
 *   - `workspace`: the candidate's persistent shell (non-root), and
 *   - `grader`: trusted tools that see the workspace read-only (used by the checker).
 * The candidate's shell is started by `create` and lives as long as the sandbox; a
 * terminal attaches to it and detaches again without ending it.
 */

export type TermSize = { cols: number; rows: number };

export type DriverKind = 'docker' | 'local' | 'kubernetes';

export interface SandboxResources {
  /** CPU cores (fractions allowed). */
  cpus: number;
  memoryMb: number;
  pids: number;
  /**
   * Size of the workspace's file system. Drivers that can enforce it (docker, when
   * `diskLimit.enabled`) make writing past it fail with ENOSPC inside the sandbox.
   */
  diskMb: number;
  /** Memory-backed directories for the lab's services (path: MB), besides the sandbox's own. */
  tmpfs?: Record<string, number>;
}

export interface SandboxSpec {
  sessionId: string;
  /** Engine image reference for the workspace (and grader) container. Ignored by `local`. */
  image: string;
  /** `isolated`: no route out of the session's own network. `egress`: internet allowed. */
  network: 'isolated' | 'egress';
  resources: SandboxResources;
  /** Linux capabilities added back for the candidate after dropping all (from the lab). */
  capAdd: string[];
  /** Environment for the candidate's shell. */
  env: Record<string, string>;
  /** Terminal size the shell starts with. */
  size: TermSize;
  /**
   * A host folder of trusted lab files (hidden test data, grading scripts) that the
   * grader sees read-only at /grader and the candidate never sees.
   */
  graderDir?: string;
}

export interface SandboxRef {
  sessionId: string;
  driver: DriverKind;
  /** Driver-specific identifier (docker: the workspace container's name; local: the sandbox dir; kubernetes: the Pod's name). */
  id: string;
}

export interface SandboxInfo {
  ref: SandboxRef;
  /** Whether the candidate's shell is running. */
  running: boolean;
}

export interface ExecOptions {
  /** Who runs the command inside the sandbox. Defaults to `candidate`. */
  user?: 'candidate' | 'root';
  env?: Record<string, string>;
  /** Working directory inside the sandbox; defaults to the workspace. */
  cwd?: string;
  stdin?: string | Buffer;
  /** Kill the command after this long. Defaults to 30 s. */
  timeoutMs?: number;
  /** Stop collecting each of stdout and stderr past this many bytes. Defaults to 1 MiB. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** True when stdout or stderr was cut at `maxOutputBytes`. */
  truncated: boolean;
}

export interface TerminalCloseInfo {
  /** Why the stream ended, for logs and the session's `error`. */
  reason: string;
}

/**
 * A live attachment to the sandbox's persistent shell. Closing it detaches; the shell
 * and its jobs keep running and a later `openTty` attaches to the same shell.
 */
export interface TerminalStream {
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once when the attachment ends by itself (sandbox stopped, engine gone). Not called after `close()`. */
  onClose(listener: (info: TerminalCloseInfo) => void): void;
  write(data: Buffer | string): void;
  resize(size: TermSize): Promise<void>;
  /** Stop reading output (backpressure); the shell blocks once the kernel buffers fill. */
  pause(): void;
  resume(): void;
  /** Detach. Idempotent. */
  close(): void;
}

export interface TtyAttachment {
  stream: TerminalStream;
  /**
   * Output the shell produced before the live stream starts. `offset` is the absolute
   * byte offset of `data[0]` in everything the shell ever printed (0 unless the driver
   * had to drop old history). Live data follows the last history byte exactly: nothing
   * lost, nothing twice.
   */
  history: { offset: number; data: Buffer };
}

export interface SandboxDriver {
  readonly kind: DriverKind;
  /** Whether this driver isolates the candidate from the host (the local driver does not). */
  readonly isolates: boolean;
  /**
   * Whether `exec` may run as root and a lab may add capabilities. False on Kubernetes,
   * where the whole Pod runs as the candidate: labs with root setup steps cannot run there.
   */
  readonly runsRoot: boolean;
  /** Whether sandboxes are kept off the host and its networks by a firewall (GET /api/health). */
  readonly networkGuard?: { enabled: boolean; detail: string };
  /** Whether what a candidate writes is held to size-limited file systems (GET /api/health). */
  readonly diskLimit?: { enabled: boolean; detail: string };
  /** Creates and starts the sandbox with its shell running. Cleans up after itself on failure. */
  create(spec: SandboxSpec, options?: { signal?: AbortSignal }): Promise<SandboxRef>;
  /** Attaches to the sandbox's shell. */
  openTty(ref: SandboxRef, size: TermSize): Promise<TtyAttachment>;
  /** Runs a command in the candidate's workspace container (setup steps, starter commit). */
  exec(ref: SandboxRef, cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs a trusted command in the grader, which sees the workspace read-only. */
  execGrader(ref: SandboxRef, cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Copies the contents of a host directory into the workspace, owned by the candidate.
   * Symlinks are copied as links, never followed.
   */
  copyIn(ref: SandboxRef, hostDir: string): Promise<void>;
  /**
   * A tar stream of the workspace, read by the engine (or the host) without running
   * anything inside the sandbox. Entries are relative to the workspace root (possibly
   * under one top folder named after it). The checker extracts it with its own limits
   * (server/checker/snapshot.ts): nothing in it is trusted.
   */
  archive(ref: SandboxRef): Promise<NodeJS.ReadableStream>;
  /** Removes everything of the sandbox. Idempotent: a missing sandbox is not an error. */
  destroy(ref: SandboxRef): Promise<void>;
  /** Sandboxes this driver (this installation) owns, optionally for one session. */
  list(selector?: { sessionId?: string }): Promise<SandboxInfo[]>;
  /** Removes resources of this installation that belong to none of `liveSessionIds`. Returns what it removed. */
  reap(liveSessionIds: ReadonlySet<string>): Promise<string[]>;
}

/** The path of the workspace inside every sandbox. */
export const WORKSPACE_PATH = '/workspace';
/** The numeric uid/gid of the candidate user in sandbox images. */
export const CANDIDATE_UID = 1000;
