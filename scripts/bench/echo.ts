/**
 * Keystroke echo in one session: single keys over opslab's candidate WebSocket, over a
 * direct dockerode TTY exec into the same workspace container, and (when it runs) over
 * wetty attached to that container, in alternating blocks so background noise hits all
 * alike. A sample is the time from sending the key to the first output chunk after it;
 * the next key waits until the terminal has been quiet for OPTS.quietMs.
 */
import { performance } from 'node:perf_hooks';
import { directChannel, opslabChannel, Probe } from './channels.js';
import type { BenchServer } from './harness.js';
import { log, sleep, workspaceOf } from './harness.js';
import { OPTS } from './options.js';
import { summarize, type Summary } from './stats.js';
import type { WettyPeer } from './wetty.js';

export interface EchoSeries {
  name: string;
  ms: number[];
  chunks: number[];
  summary: Summary;
}

export interface EchoResult {
  sessionId: string;
  series: EchoSeries[];
  /** opslab median minus direct median (ms), and their ratio. */
  overheadMedianMs: number;
  overheadP99Ms: number;
  ratioMedian: number;
  ratioP99: number;
  wetty: { ran: boolean; reason?: string; transport?: string };
}

/** One keystroke: time from send to the first output chunk after it, then wait for quiet. */
export async function echoOnce(probe: Probe, key: string): Promise<{ ms: number; chunks: number }> {
  const before = probe.chunks;
  const next = probe.next(5_000);
  const t = performance.now();
  probe.send(key);
  const at = await next;
  await probe.quiet(OPTS.quietMs);
  return { ms: at - t, chunks: probe.chunks - before };
}

export async function echoBench(bs: BenchServer, wetty: WettyPeer | { reason: string } | null): Promise<EchoResult> {
  const session = await bs.ready();
  const c = await bs.connect(session.id, session.candidateToken);
  // Let the login banner and prompt settle.
  await sleep(300);
  const probes: Probe[] = [new Probe(opslabChannel(c.term))];
  const direct = await directChannel(bs.bench, workspaceOf(session.id));
  probes.push(direct.probe);
  const wettyInfo: EchoResult['wetty'] = { ran: false };
  if (wetty && 'attach' in wetty) {
    try {
      const w = await wetty.attach(workspaceOf(session.id));
      probes.push(w.probe);
      wettyInfo.ran = true;
      wettyInfo.transport = w.transport;
    } catch (e) {
      wettyInfo.reason = e instanceof Error ? e.message : String(e);
      log(`wetty echo skipped: ${wettyInfo.reason}`);
    }
  } else if (wetty) {
    wettyInfo.reason = wetty.reason;
  }
  await sleep(100);

  const results = new Map(probes.map((p) => [p.name, { ms: [] as number[], chunks: [] as number[] }]));
  const keys = new Map(probes.map((p) => [p.name, 0]));
  const runBlock = async (probe: Probe, n: number, record: boolean) => {
    let k = keys.get(probe.name) ?? 0;
    for (let i = 0; i < n; i++) {
      // x then DEL: the line never grows, and both keys echo through readline.
      const key = k++ % 2 === 0 ? 'x' : '\x7f';
      const r = await echoOnce(probe, key);
      if (record) {
        results.get(probe.name)?.ms.push(r.ms);
        results.get(probe.name)?.chunks.push(r.chunks);
      }
    }
    // Leave the line empty.
    if (k % 2 === 1) {
      await echoOnce(probe, '\x7f');
      k++;
    }
    keys.set(probe.name, k);
  };
  try {
    for (const p of probes) await runBlock(p, OPTS.warmup, false);
    for (let done = 0; done < OPTS.echoSamples; done += OPTS.block) {
      const n = Math.min(OPTS.block, OPTS.echoSamples - done);
      for (const p of probes) await runBlock(p, n, true);
    }
  } finally {
    for (const p of probes.slice(1)) await p.channel.close();
    await bs.closeTerminal(c.term);
    await bs.end(session.id);
  }
  const series: EchoSeries[] = probes.map((p) => {
    const r = results.get(p.name) ?? { ms: [], chunks: [] };
    return { name: p.name, ms: r.ms, chunks: r.chunks, summary: summarize(r.ms) };
  });
  const o = series[0]!.summary;
  const d = series[1]!.summary;
  return {
    sessionId: session.id,
    series,
    overheadMedianMs: o.median - d.median,
    overheadP99Ms: o.p99 - d.p99,
    ratioMedian: o.median / d.median,
    ratioP99: o.p99 / d.p99,
    wetty: wettyInfo,
  };
}
