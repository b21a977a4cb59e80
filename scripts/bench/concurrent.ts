/**
 * Echo with many sessions typing at once: N sessions, each with its candidate WebSocket,
 * each typing one key every OPTS.typingIntervalMs (a fast typist; random start phase,
 * ±20% jitter) and timing every echo as in echo.ts. All typists run at the same time on
 * the one server.
 */
import { performance } from 'node:perf_hooks';
import type { CreatedSession } from '../../test/helpers/session-flow.js';
import { opslabChannel, Probe } from './channels.js';
import type { BenchServer, Connected } from './harness.js';
import { log, mapLimit, sleep } from './harness.js';
import { OPTS } from './options.js';
import { summarize, type Summary } from './stats.js';

export interface ConcurrentResult {
  typists: number;
  intervalMs: number;
  ms: number[];
  summary: Summary;
  perTypistMedian: Summary;
  /** Keys whose echo did not come within 5 s. */
  timeouts: number;
}

export async function concurrentBench(bs: BenchServer): Promise<ConcurrentResult> {
  const n = OPTS.typists;
  log(`  creating ${n} sessions (${OPTS.createConcurrency} at a time)`);
  const sessions: CreatedSession[] = await mapLimit(Array.from({ length: n }), OPTS.createConcurrency, () => bs.ready());
  const conns: Connected[] = [];
  try {
    for (const s of sessions) conns.push(await bs.connect(s.id, s.candidateToken));
    await sleep(500);
    const probes = conns.map((c) => new Probe(opslabChannel(c.term)));
    const all: number[] = [];
    const medians: number[] = [];
    let timeouts = 0;
    const t0 = performance.now();
    await Promise.all(
      probes.map(async (probe) => {
        const mine: number[] = [];
        await sleep(Math.random() * OPTS.typingIntervalMs);
        let due = performance.now();
        for (let i = 0; i < OPTS.typingSamples; i++) {
          const key = i % 2 === 0 ? 'x' : '\x7f';
          const next = probe.next(5_000);
          const t = performance.now();
          probe.send(key);
          try {
            mine.push((await next) - t);
          } catch {
            timeouts++;
          }
          await probe.quiet(OPTS.quietMs);
          due += OPTS.typingIntervalMs * (0.8 + Math.random() * 0.4);
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
        if (OPTS.typingSamples % 2 === 1) probe.send('\x7f');
        all.push(...mine);
        medians.push(summarize(mine).median);
      }),
    );
    log(`  ${n} typists x ${OPTS.typingSamples} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { typists: n, intervalMs: OPTS.typingIntervalMs, ms: all, summary: summarize(all), perTypistMedian: summarize(medians), timeouts };
  } finally {
    for (const c of conns) await bs.closeTerminal(c.term);
    await mapLimit(sessions, 4, (s) => bs.end(s.id));
  }
}
