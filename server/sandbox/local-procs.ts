/**
 * Finding the processes of a local sandbox after the fact. Every process the local
 * driver starts carries a marker variable in its environment, and children inherit it;
 * on Linux `/proc/<pid>/environ` shows it, so `destroy` can kill what a candidate left
 * running with `nohup` or `setsid` (which escape the shell's hangup). Elsewhere, or for
 * a process that cleared its environment, this finds nothing: the local driver does not
 * isolate, and this is best effort.
 */
import { readdir, readFile } from 'node:fs/promises';

export const SANDBOX_MARKER_VAR = 'OPSLAB_LOCAL_SANDBOX';

/** Pids (other than this process) whose environment has `OPSLAB_LOCAL_SANDBOX=<marker>`. */
export async function findMarkedProcesses(marker: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const needle = Buffer.from(`${SANDBOX_MARKER_VAR}=${marker}\0`);
  const found: number[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      const pid = Number(entry);
      if (pid === process.pid) return;
      try {
        const environ = await readFile(`/proc/${entry}/environ`);
        const at = environ.indexOf(needle);
        // Match whole entries only: at the start or right after a NUL.
        if (at === 0 || (at > 0 && environ[at - 1] === 0)) found.push(pid);
      } catch {
        // Gone, or not ours to read.
      }
    }),
  );
  return found;
}

/** SIGKILLs every process still carrying the marker. Returns how many were signalled. */
export async function killMarkedProcesses(marker: string): Promise<number> {
  const pids = await findMarkedProcesses(marker);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids.length;
}
