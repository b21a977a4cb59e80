/**
 * Server memory and CPU with idle sessions, on a server of its own (so the other
 * sections' heap growth is not counted): a baseline with no session, then the session
 * count is raised to each of OPTS.idleCounts (e.g. 50, then 100), each session with its
 * candidate WebSocket open unless `--idle-viewers 0`, nobody typing. After OPTS.idleSettleS
 * the server process is sampled once a second for OPTS.idleWindowS: RSS from
 * /proc/<pid>/status (VmRSS), CPU from /proc/<pid>/stat (utime+stime), and the same for
 * its child processes (tsx's esbuild service) separately.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CreatedSession } from '../../test/helpers/session-flow.js';
import type { Bench, BenchServer, Connected } from './harness.js';
import { log, mapLimit, sleep } from './harness.js';
import { OPTS } from './options.js';
import { summarize, type Summary } from './stats.js';

let clkTck = 0;
function ticksPerSecond(): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat(5))
}

/** Every process below `pid` (from each process's parent in /proc/<n>/stat; /proc/<pid>/task/<tid>/children is not in every kernel). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const k of children.get(queue.shift() as number) ?? []) {
      out.push(k);
      queue.push(k);
    }
  }
  return out;
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

export interface IdleSample {
  sessions: number;
  viewers: number;
  windowS: number;
  rssMB: Summary;
  /** Average CPU over the window, % of one core. */
  cpuPct: number;
  childrenRssMB: Summary;
  childrenCpuPct: number;
  /** Host memory in use (MemTotal - MemAvailable) change since the baseline, MB: the sandboxes, the engine, the page cache it cannot drop. */
  hostUsedDeltaMB: number;
}

export interface IdleResult {
  samples: IdleSample[];
  /** Time to fill up to each count, s. */
  fillSeconds: Record<string, number>;
  error?: string;
}

async function sampleWindow(pid: number, sessions: number, viewers: number, baseAvail: number): Promise<IdleSample> {
  const rss: number[] = [];
  const kidsRss: number[] = [];
  const tps = ticksPerSecond();
  const kids0 = descendants(pid);
  const ticks = () => cpuTicks(pid);
  const kidTicks = (ks: number[]) => ks.reduce((n, k) => n + (fs.existsSync(`/proc/${k}`) ? cpuTicks(k) : 0), 0);
  const c0 = ticks();
  const k0 = kidTicks(kids0);
  const t0 = performance.now();
  for (let i = 0; i < OPTS.idleWindowS; i++) {
    await sleep(1000);
    rss.push(rssBytes(pid) / 1e6);
    kidsRss.push(descendants(pid).reduce((n, k) => n + (fs.existsSync(`/proc/${k}`) ? rssBytes(k) : 0), 0) / 1e6);
  }
  const secs = (performance.now() - t0) / 1000;
  const cpuPct = ((ticks() - c0) / tps / secs) * 100;
  const childrenCpuPct = ((kidTicks(kids0) - k0) / tps / secs) * 100;
  return {
    sessions,
    viewers,
    windowS: secs,
    rssMB: summarize(rss),
    cpuPct,
    childrenRssMB: summarize(kidsRss),
    childrenCpuPct,
    hostUsedDeltaMB: (baseAvail - memAvailable()) / 1e6,
  };
}

export async function idleBench(bench: Bench): Promise<IdleResult> {
  const max = Math.max(0, ...OPTS.idleCounts);
  const bs: BenchServer = await bench.startServer('idle', { OPSLAB_SESSION_MAX_LIVE: String(max + 2) });
  const sessions: CreatedSession[] = [];
  const conns: Connected[] = [];
  const result: IdleResult = { samples: [], fillSeconds: {} };
  try {
    await sleep(OPTS.idleSettleS * 1000);
    const baseAvail = memAvailable();
    log(`  idle: baseline, no session (${OPTS.idleWindowS} s)`);
    result.samples.push(await sampleWindow(bs.pid, 0, 0, baseAvail));
    for (const count of [...OPTS.idleCounts].sort((a, b) => a - b)) {
      const t0 = performance.now();
      const add = count - sessions.length;
      if (add > 0) {
        log(`  idle: adding ${add} sessions (${OPTS.createConcurrency} at a time) to reach ${count}`);
        await mapLimit(Array.from({ length: add }), OPTS.createConcurrency, async () => {
          const s = await bs.ready(OPTS.lab, 180_000);
          sessions.push(s);
          if (OPTS.idleViewers) conns.push(await bs.connect(s.id, s.candidateToken));
        });
      }
      result.fillSeconds[String(count)] = (performance.now() - t0) / 1000;
      await sleep(OPTS.idleSettleS * 1000);
      log(`  idle: ${count} sessions, sampling ${OPTS.idleWindowS} s`);
      result.samples.push(await sampleWindow(bs.pid, sessions.length, conns.length, baseAvail));
    }
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    log(`idle: ${result.error}`);
  } finally {
    for (const c of conns) await bs.closeTerminal(c.term);
    log(`  idle: ending ${bs.live.size} sessions`);
    const leftovers = await bench.stopServer(bs);
    if (leftovers.length) log(`idle: removed what the server left: ${leftovers.join(', ')}`);
  }
  return result;
}
