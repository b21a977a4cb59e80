/**
 * Session start from a warm pool, on a server of its own started with
 * `OPSLAB_POOLS="<lab>=<size>"` (config `pools`: lab id -> size). The same measurement
 * as the cold start (start.ts), one session at a time, each ended before the next.
 *
 * Between samples the pool must be full again: when GET /api/health has a `pools` field
 * the bench polls it until the lab's pool reports as many ready sandboxes as its size;
 * if the field's shape is not understood, it waits OPTS.poolRefillWaitMs instead (and
 * says so in the result). A server without the knob ignores the variable with a warning
 * and its health has no `pools`: then nothing is measured ("not available"), since the
 * numbers would be cold ones.
 *
 * Each sample also records when its workspace container was created relative to the
 * POST: before it means the sandbox came from the pool.
 */
import { performance } from 'node:perf_hooks';
import type { Bench, BenchServer } from './harness.js';
import { log, sleep } from './harness.js';
import { OPTS } from './options.js';
import { phaseRows, sessionStart, summarizeStarts, type StartSample, type StartSummary } from './start.js';

export interface WarmResult {
  available: boolean;
  reason?: string;
  /** How the bench waited for the pool to refill. */
  refill?: string;
  health?: unknown;
  samples: StartSample[];
  summary?: StartSummary;
  phases?: ReturnType<typeof phaseRows>;
  /** Samples whose workspace container was created before the request / after it / unknown. */
  poolHits?: { before: number; after: number; unknown: number };
}

const READY_KEYS = ['ready', 'available', 'idle', 'warm', 'free', 'size'];
const SIZE_KEYS = ['target', 'want', 'wanted', 'desired', 'capacity', 'size', 'max'];

/** {ready, size} for `lab` from health.pools, whatever reasonable shape it has; null if not understood. */
export function poolState(pools: unknown, lab: string): { ready: number; size: number } | null {
  let entry: unknown = null;
  if (Array.isArray(pools)) {
    entry = pools.find((p) => typeof p === 'object' && p !== null && ((p as Record<string, unknown>).lab === lab || (p as Record<string, unknown>).id === lab));
  } else if (typeof pools === 'object' && pools !== null) {
    entry = (pools as Record<string, unknown>)[lab];
  }
  if (typeof entry === 'number') return null; // a bare number: size or ready? not guessable
  if (typeof entry !== 'object' || entry === null) return null;
  const e = entry as Record<string, unknown>;
  const num = (keys: string[], skip?: string) => {
    for (const k of keys) if (k !== skip && typeof e[k] === 'number') return { key: k, value: e[k] };
    return null;
  };
  const size = num(SIZE_KEYS);
  const ready = num(READY_KEYS, size?.key);
  if (!size || !ready) return null;
  return { ready: ready.value, size: size.value };
}

async function waitFull(bs: BenchServer, lab: string, timeoutMs: number): Promise<'full' | 'timeout' | 'unknown'> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const st = poolState((await bs.health()).pools, lab);
    if (!st) return 'unknown';
    if (st.ready >= st.size) return 'full';
    if (performance.now() > deadline) return 'timeout';
    await sleep(100);
  }
}

export async function warmBench(bench: Bench): Promise<WarmResult> {
  const lab = OPTS.lab;
  const bs = await bench.startServer('warm', { OPSLAB_POOLS: `${lab}=${OPTS.poolSize}` });
  try {
    const health = await bs.health();
    const ignored = /OPSLAB_POOLS is not a known setting/.test(bs.logText());
    if (!('pools' in health) || ignored) {
      return {
        available: false,
        reason: ignored ? 'the server ignores OPSLAB_POOLS (not a known setting)' : 'GET /api/health has no `pools`',
        health,
        samples: [],
      };
    }
    const first = await waitFull(bs, lab, 120_000);
    const refill =
      first === 'unknown'
        ? `health.pools has no {ready, size} for ${lab}: waited a fixed ${OPTS.poolRefillWaitMs} ms between samples`
        : 'polled GET /api/health until the pool was full before each sample';
    if (first === 'unknown') await sleep(OPTS.poolRefillWaitMs);
    const samples: StartSample[] = [];
    for (let i = 0; i < OPTS.warmSamples; i++) {
      samples.push(await sessionStart(bs, bench.events, 'warm', i, OPTS.warmSamples));
      if (first === 'unknown') await sleep(OPTS.poolRefillWaitMs);
      else if ((await waitFull(bs, lab, 120_000)) === 'timeout') log('warm: the pool did not refill within 120 s');
    }
    const poolHits = { before: 0, after: 0, unknown: 0 };
    for (const s of samples) {
      if (s.containerCreatedMs === null) poolHits.unknown++;
      else if (s.containerCreatedMs < 0) poolHits.before++;
      else poolHits.after++;
    }
    return { available: true, refill, health, samples, summary: summarizeStarts(samples), phases: phaseRows(samples, true), poolHits };
  } finally {
    const leftovers = await bench.stopServer(bs);
    if (leftovers.length) log(`warm: removed what the server left: ${leftovers.join(', ')}`);
  }
}
