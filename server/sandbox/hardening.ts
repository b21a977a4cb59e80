/**
 * How a sandbox is locked down, as plain data (no engine client here), so the rules
 * can be read and unit-tested in one place and shared by every driver.
 */
import { CANDIDATE_UID, WORKSPACE_PATH, type SandboxSpec } from './driver.js';

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
    `exec script -q -f -O ${TTY_LOG} -c "${loop.replace(/"/g, '\\"')}"`,
  ].join(' && ');
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
 * The candidate's scratch space besides the workspace and home disks: /tmp and /var/tmp
 * as tmpfs (their pages count against the container's memory limit, so they are small
 * shares of it) and /dev/shm likewise. `exec`: Docker mounts tmpfs noexec by default,
 * and candidates run scripts from /tmp; nosuid and nodev as everywhere the candidate writes.
 */
export function scratchMounts(memoryMb: number): { Tmpfs: Record<string, string>; ShmSize: number } {
  const mb = (n: number) => Math.max(8, Math.floor(n));
  const tmpfs = (sizeMb: number) => `rw,exec,nosuid,nodev,mode=1777,size=${mb(sizeMb)}m`;
  return {
    Tmpfs: { '/tmp': tmpfs(Math.min(512, memoryMb / 4)), '/var/tmp': tmpfs(Math.min(128, memoryMb / 8)) },
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
