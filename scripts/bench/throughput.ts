/**
 * Output throughput to one client: `head -c <N>M /dev/zero | base64` in the shell, timed
 * from the Enter key to the arrival of an end marker the shell prints afterwards
 * (`printf` builds it, so the echoed command line never matches). Over opslab's
 * WebSocket (acking exactly as the web app does: 32 KiB batches or 15 ms), a direct
 * dockerode TTY exec into the same container, and wetty (its web client's `commit`
 * flow control). Each run uses a fresh session (so opslab's recording starts below its
 * size cap every time) and rotates which path goes first.
 */
import { performance } from 'node:perf_hooks';
import { chunkBytes, chunkTail, directChannel, opslabChannel, Probe } from './channels.js';
import type { BenchServer } from './harness.js';
import { log, sleep, workspaceOf } from './harness.js';
import { OPTS } from './options.js';
import { summarize, type Summary } from './stats.js';
import type { WettyPeer } from './wetty.js';

const MARK = 'BENCH-DONE';

export interface ThroughputSample {
  run: number;
  bytes: number;
  expectedBytes: number;
  ms: number;
  mbPerS: number;
  /** False when fewer bytes arrived than the command printed (output was dropped or replaced by a screen). */
  complete: boolean;
}

export interface ThroughputSeries {
  name: string;
  samples: ThroughputSample[];
  mbPerS: Summary;
  complete: boolean;
}

export interface ThroughputResult {
  mib: number;
  series: ThroughputSeries[];
  wetty: { ran: boolean; reason?: string };
}

/** Bytes a terminal shows for base64 of `n` bytes: 76-column lines, each ended by \r\n (the tty's onlcr). */
export function expectedBase64Bytes(n: number): number {
  const b64 = 4 * Math.ceil(n / 3);
  return b64 + 2 * Math.ceil(b64 / 76);
}

async function measure(probe: Probe, mib: number, run: number): Promise<ThroughputSample> {
  const command = `head -c ${mib}M /dev/zero | base64; printf '%s-%s\\n' ${MARK.split('-').join(' ')}`;
  probe.send(command);
  await probe.waitText(MARK.split('-').join(' '), 10_000);
  await probe.quiet(50);
  let bytes = 0;
  let tail = '';
  let off: () => void = () => undefined;
  const timeoutMs = Math.max(60_000, mib * 5_000);
  const done = new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`${probe.name}: no end marker after ${timeoutMs} ms (${bytes} bytes so far)`));
    }, timeoutMs);
    off = probe.channel.subscribe((d, at) => {
      bytes += chunkBytes(d);
      // The marker may sit anywhere in a chunk (the prompt follows it) or span two.
      const head = typeof d === 'string' ? d.slice(0, MARK.length) : d.subarray(0, MARK.length).toString('latin1');
      const found = d.indexOf(MARK) >= 0 || (tail + head).includes(MARK);
      tail = (tail + chunkTail(d, MARK.length)).slice(-MARK.length);
      if (found) {
        clearTimeout(t);
        off();
        resolve(at);
      }
    });
  });
  const t0 = performance.now();
  probe.send('\r');
  const at = await done;
  const ms = at - t0;
  const expectedBytes = expectedBase64Bytes(mib * 1024 * 1024);
  await probe.quiet(200);
  return { run, bytes, expectedBytes, ms, mbPerS: bytes / 1e6 / (ms / 1000), complete: bytes >= expectedBytes };
}

export async function throughputBench(bs: BenchServer, wetty: WettyPeer | { reason: string } | null): Promise<ThroughputResult> {
  const mib = OPTS.throughputMiB;
  const samples = new Map<string, ThroughputSample[]>();
  const wettyInfo: ThroughputResult['wetty'] = { ran: false, ...(wetty && !('attach' in wetty) ? { reason: wetty.reason } : {}) };
  for (let run = 0; run < OPTS.throughputRuns; run++) {
    const session = await bs.ready();
    const c = await bs.connect(session.id, session.candidateToken, 'web');
    const probes: Probe[] = [];
    try {
      await sleep(300);
      probes.push(new Probe(opslabChannel(c.term)));
      probes.push((await directChannel(bs.bench, workspaceOf(session.id))).probe);
      if (wetty && 'attach' in wetty) {
        try {
          probes.push((await wetty.attach(workspaceOf(session.id))).probe);
          wettyInfo.ran = true;
        } catch (e) {
          wettyInfo.reason = e instanceof Error ? e.message : String(e);
          log(`wetty throughput skipped: ${wettyInfo.reason}`);
        }
      }
      for (let k = 0; k < probes.length; k++) {
        const probe = probes[(run + k) % probes.length]!;
        const s = await measure(probe, mib, run);
        log(`  throughput run ${run + 1}/${OPTS.throughputRuns} ${probe.name}: ${s.mbPerS.toFixed(1)} MB/s (${(s.bytes / 1e6).toFixed(1)} MB in ${(s.ms / 1000).toFixed(2)} s)`);
        samples.set(probe.name, [...(samples.get(probe.name) ?? []), s]);
      }
    } finally {
      for (const p of probes.slice(1)) await p.channel.close();
      await bs.closeTerminal(c.term);
      await bs.end(session.id);
    }
  }
  const series = ['opslab', 'direct', 'wetty']
    .filter((n) => samples.has(n))
    .map((name) => {
      const s = samples.get(name) ?? [];
      return { name, samples: s, mbPerS: summarize(s.map((x) => x.mbPerS)), complete: s.every((x) => x.complete) };
    });
  return { mib, series, wetty: wettyInfo };
}
