/**
 * How a sandbox is locked down, as plain data (no engine client here), so the rules
 * can be read and unit-tested in one place and shared by every driver.
 */
import { CANDIDATE_UID, WORKSPACE_PATH, type SandboxSpec } from './driver.js';
import { AppError } from '../errors.js';

export const GRADER_UID = 1001;
/** The candidate's home directory in sandbox images (labs/_images/base). */
export const CANDIDATE_HOME = '/home/candidate';

/** Linux capability names accepted from labs (without the CAP_ prefix). */
const CAPABILITY = /^[A-Z][A-Z_]{1,31}$/;

/**
 * The only capabilities the workspace container itself keeps: its root init needs
 * SETUID/SETGID to become the candidate and SETPCAP to empty the candidate's bounding
 * set. The candidate's shell ends up with no capabilities at all (plus what the lab
 * declares, passed on as ambient capabilities).
 */
export const WORKSPACE_INIT_CAPS = ['SETUID', 'SETGID', 'SETPCAP'] as const;

export function normalizeCapabilities(caps: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of caps) {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (!CAPABILITY.test(cap)) throw new Error(`not a Linux capability name: ${JSON.stringify(raw)}`);
    if (cap === 'SYS_ADMIN' || cap === 'ALL') throw new Error(`capability ${cap} is never granted to a sandbox`);
    out.add(cap);
  }
  return [...out].sort();
}

/** Where the shell's output log lives inside the workspace container (root-only). */
export const TTY_LOG_DIR = '/var/lib/opslab';
export const TTY_LOG = `${TTY_LOG_DIR}/tty.log`;
/** argv[0] of the process that streams the log to the server, so it can be found and stopped. */
export const TTY_READER_NAME = 'opslab-tty-reader';

/**
 * The workspace container's main process, run as root with only WORKSPACE_INIT_CAPS:
 * `script` owns the candidate's pty and appends every output byte to TTY_LOG (which
 * the candidate cannot read or forge), and a loop starts a new login shell as the
 * candidate whenever the last one exits. Because the shell is not a child of the
 * server, it survives server restarts, and the log lets a new server resume the exact
 * byte stream.
 */
export function workspaceInitScript(candidateCaps: readonly string[]): string {
  const caps = candidateCaps.map((c) => `+cap_${c.toLowerCase()}`).join(',');
  const capArgs = caps
    ? `--inh-caps=-all,${caps} --ambient-caps=${caps} --bounding-set=-all,${caps}`
    : '--inh-caps=-all --bounding-set=-all';
  const shell =
    `env HOME=${CANDIDATE_HOME} USER=candidate LOGNAME=candidate SHELL=/bin/bash ` +
    `setpriv --reuid=${CANDIDATE_UID} --regid=${CANDIDATE_UID} --init-groups ${capArgs} bash -l`;
  const loop = `while :; do ${shell}; printf '\\r\\n[opslab] the shell exited; starting a new one\\r\\n'; sleep 0.2; done`;
  return [
    `mkdir -p ${TTY_LOG_DIR}`,
    `chmod 700 ${TTY_LOG_DIR}`,
    `(umask 077; : > ${TTY_LOG})`,
    `cd ${WORKSPACE_PATH}`,
    `{ ${ttyLogTrimLoop()} & }`,
    // stdout to /dev/null: the log is the one copy anyone reads; a second one through the
    // container's TTY would cost the engine (shim and dockerd) a copy of every byte for nothing.
    `exec script -q -f -O ${TTY_LOG} -c "${loop.replace(/"/g, '\\"')}" >/dev/null`,
  ].join(' && ');
}

/** Output bytes of the log kept on disk: comfortably more than a re-attach reads back. */
export const TTY_LOG_KEEP_BYTES = 48 * 1024 * 1024;
/**
 * How far the server's reader may fall behind before its unread bytes are punched out
 * anyway: past this, a flood is dropped (read as NUL bytes) rather than kept on disk.
 */
export const TTY_LOG_MAX_BEHIND_BYTES = 512 * 1024 * 1024;
const TTY_LOG_BLOCK = 4096;

/**
 * Keeps the log's disk use bounded while a candidate prints without end (`yes`): once a
 * second, the blocks older than the last TTY_LOG_KEEP_BYTES are punched out
 * (`fallocate --punch-hole`), but never blocks the server's reader has not read yet
 * (its position is its file offset in /proc/<pid>/fdinfo), unless it is more than
 * TTY_LOG_MAX_BEHIND_BYTES behind; then it reads the punched span as NUL bytes, which
 * terminals ignore. The file keeps its length, so every byte keeps its absolute offset
 * and the readers (ttyHistoryScript, ttyReaderScript) work unchanged. The first block
 * (the `script` header line) is never punched. Runs as root, so the candidate cannot
 * stop it. Where the file system cannot punch holes, the log grows as before.
 */
export function ttyLogTrimLoop(): string {
  const keep = TTY_LOG_KEEP_BYTES;
  const b = TTY_LOG_BLOCK;
  // The reader's offset in the log, or nothing when no reader runs (the server is away).
  const readerPos =
    `r=; for pid in $(pgrep -f '^${TTY_READER_NAME}'); do for fd in /proc/$pid/fd/*; do ` +
    `if [ "$(readlink "$fd")" = ${TTY_LOG} ]; then r=$(sed -n 's/^pos:[[:space:]]*//p' /proc/$pid/fdinfo/\${fd##*/}); fi; done; done`;
  return (
    `p=${b}; while sleep 1; do s=$(stat -c %s ${TTY_LOG} 2>/dev/null) || continue; ` +
    `e=$(( (s - ${keep}) / ${b} * ${b} )); ` +
    `if [ $e -gt $p ]; then ${readerPos}; ` +
    `if [ -n "$r" ] && [ "$r" -lt $e ] && [ $((s - r)) -lt ${TTY_LOG_MAX_BEHIND_BYTES} ]; then e=$(( r / ${b} * ${b} )); fi; fi; ` +
    `if [ $e -gt $p ] && fallocate --punch-hole --offset $p --length $((e - p)) ${TTY_LOG} 2>/dev/null; then p=$e; fi; done`
  );
}

/*
 * `script` writes one header line before any output; output offset 0 is the byte
 * after it. Offsets are absolute positions in the file, so reading the history and
 * then following from exactly its end loses and repeats nothing.
 */

/**
 * Stops any reader left by an earlier attachment (one reader per sandbox), then prints
 * `<total> <kept>\n` and the last `kept` (at most `maxBytes`) output bytes so far.
 */
export function ttyHistoryScript(maxBytes: number): string {
  return (
    `pkill -f '^${TTY_READER_NAME}'; h=$(head -n1 ${TTY_LOG} | wc -c); s=$(stat -c %s ${TTY_LOG}); c=$((s-h)); k=$c; ` +
    `if [ $k -gt ${maxBytes} ]; then k=${maxBytes}; fi; printf '%d %d\n' $c $k; ` +
    `tail -c +$((h+1+c-k)) ${TTY_LOG} | head -c $k`
  );
}

/**
 * The history `ttyHistoryScript` printed, as the absolute offset of its first byte and
 * the bytes; SANDBOX_FAILED when the script failed or its output is cut short.
 */
export function parseTtyHistory(r: { exitCode: number; stdout: Buffer; stderr: Buffer }): { offset: number; data: Buffer } {
  const newline = r.stdout.indexOf(0x0a);
  const head = /^(\d+) (\d+)$/.exec(r.stdout.subarray(0, Math.max(0, newline)).toString('latin1'));
  if (r.exitCode !== 0 || !head) {
    throw new AppError('SANDBOX_FAILED', `cannot read the shell's output log: ${r.stderr.toString('utf8').slice(0, 300)}`);
  }
  const total = Number(head[1]);
  const data = r.stdout.subarray(newline + 1);
  if (data.length !== Number(head[2])) {
    throw new AppError('SANDBOX_FAILED', `short read of the shell's output log (${data.length} of ${head[2]} bytes)`);
  }
  return { offset: total - data.length, data: Buffer.from(data) };
}

/** Follows the output log from output offset `from`, as the named reader process. */
export function ttyReaderScript(from: number): string {
  return `h=$(head -n1 ${TTY_LOG} | wc -c) && exec -a ${TTY_READER_NAME} tail -c +$((h+1+${Math.trunc(from)})) -f ${TTY_LOG}`;
}

export interface ContainerLimits {
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  PidsLimit: number;
}

export function limitsFor(resources: Pick<SandboxSpec['resources'], 'cpus' | 'memoryMb' | 'pids'>): ContainerLimits {
  const memory = Math.round(resources.memoryMb * 1024 * 1024);
  return {
    Memory: memory,
    MemorySwap: memory, // no swap beyond the memory limit
    NanoCpus: Math.round(resources.cpus * 1e9),
    PidsLimit: resources.pids,
  };
}

/**
 * Everything writable besides the workspace and home disks is memory-backed and bounded
 * (tmpfs pages count against the container's memory limit, so each is a small share of
 * it), so nothing a candidate does, directly or through a lab's root services, grows the
 * container's root file system on the host's disk:
 * - /tmp, /var/tmp and /dev/shm for the candidate. `exec`: Docker mounts tmpfs noexec by
 *   default, and candidates run scripts from /tmp;
 * - /run and /var/log (root's, as on a real host where /run is a tmpfs too) for the state
 *   and logs of the lab's services; the image's install logs in /var/log are hidden;
 * - the lab's own `resources.tmpfs` directories (an MLflow server's store).
 * nosuid and nodev everywhere.
 */
export function scratchMounts(memoryMb: number, labTmpfs: Record<string, number> = {}): { Tmpfs: Record<string, string>; ShmSize: number } {
  const mb = (n: number) => Math.max(8, Math.floor(n));
  const scratch = (sizeMb: number) => `rw,exec,nosuid,nodev,mode=1777,size=${mb(sizeMb)}m`;
  const rootOwned = (sizeMb: number) => `rw,nosuid,nodev,mode=755,size=${mb(sizeMb)}m`;
  const lab = Object.fromEntries(Object.entries(labTmpfs).map(([p, size]) => [p, `rw,nosuid,nodev,mode=755,size=${Math.max(1, Math.floor(size))}m`]));
  return {
    Tmpfs: {
      '/tmp': scratch(Math.min(512, memoryMb / 4)),
      '/var/tmp': scratch(Math.min(128, memoryMb / 8)),
      '/run': rootOwned(Math.min(64, memoryMb / 16)),
      '/var/log': rootOwned(Math.min(128, memoryMb / 8)),
      ...lab,
    },
    ShmSize: mb(Math.min(64, memoryMb / 8)) * 1024 * 1024,
  };
}

/** Options every sandbox container gets, whatever its role. */
export const COMMON_HOST_CONFIG = {
  Privileged: false,
  Init: true,
  CapDrop: ['ALL'],
  SecurityOpt: ['no-new-privileges'],
  // The server keeps its own recording; engine logs would only duplicate terminal output on disk.
  LogConfig: { Type: 'none', Config: {} },
  RestartPolicy: { Name: '', MaximumRetryCount: 0 },
} as const;
