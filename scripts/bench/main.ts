/**
 * `npm run bench` (issue 7): performance of opslab against real servers (Docker driver),
 * side by side in one run on one machine, with the floor (a direct dockerode exec into
 * the same container) and a peer (wetty) where they apply. Not part of the test command.
 * Prints tables and the issue's targets (met / missed), and writes
 * bench-results/core-<timestamp>.json and, next to it, core-<timestamp>-echo.svg (echo
 * latency distributions; also a .png when rsvg-convert is installed).
 *
 * Sections (each in its own module; `--only a,b` runs a subset, default all):
 *   cold        session start -> first prompt byte, one at a time (start.ts)
 *   warm        the same from a warm pool, on a server started with OPSLAB_POOLS (warm.ts)
 *   echo        keystroke echo: opslab vs direct exec vs wetty, one session (echo.ts)
 *   throughput  output MB/s to one client: opslab vs direct exec vs wetty (throughput.ts)
 *   concurrent  echo with N sessions typing at once (concurrent.ts)
 *   idle        server RSS and CPU with 0 / 50 / 100 idle sessions, own server (idle.ts)
 *   grading     grading time per lab (grading.ts)
 *   wetty       include the wetty peer in echo and throughput (`--only wetty` = both
 *               sections with it; `--no-wetty` leaves it out). Installed on demand into
 *               .cache/bench-wetty (wetty.ts); if it cannot run, the table says why.
 *
 * Flags (defaults in parentheses):
 *   --only LIST               sections to run (all)
 *   --no-wetty                leave the wetty peer out
 *   --lab ID                  lab for start, echo, throughput, concurrent, idle (hello)
 *   --sessions N              cold start samples (20)
 *   --warm-samples N          warm start samples (20)
 *   --pool-size N             OPSLAB_POOLS size for the warm server (3)
 *   --pool-refill-wait-ms N   wait between warm samples when health does not show the pool (5000)
 *   --echo-samples N          echo samples per path (500)
 *   --warmup N                unrecorded echo keys per path first (50)
 *   --block N                 echo keys per path before switching path (100)
 *   --throughput-mb N         MiB of zeros piped through base64 per run (40)
 *   --throughput-runs N       throughput runs, a fresh session each (3)
 *   --typists N               sessions typing at once (20)
 *   --typing-samples N        keys per typist (100)
 *   --typing-interval-ms N    time between one typist's keys, ±20% (100)
 *   --idle LIST               idle session counts to measure at (50,100)
 *   --idle-window-s N         sampling window per count (10)
 *   --idle-settle-s N         wait before each window (5)
 *   --idle-viewers 0|1        open a candidate WebSocket per idle session (1)
 *   --sandbox-memory-mb N     OPSLAB_SANDBOX_MEMORY_MB for every server (server default)
 *   --create-concurrency N    sessions created at once when filling up (4)
 *   --grade-labs LIST         labs to grade (every valid lab)
 *   --grade-runs N            gradings per lab (3)
 *   --grade-attempt solution|starter   what is graded (solution: the lab's reference solution)
 *   --wetty-version V         npm version range of wetty (3.2)
 *
 * A small run while developing: npm run bench -- --only cold,echo,throughput,wetty
 *   --sessions 3 --echo-samples 100 --warmup 20 --block 50 --throughput-mb 8 --throughput-runs 1
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT } from '../../test/helpers/server-process.js';
import { concurrentBench } from './concurrent.js';
import { echoBench } from './echo.js';
import { gradingBench } from './grading.js';
import { Bench, log, type BenchServer } from './harness.js';
import { idleBench } from './idle.js';
import { machineInfo } from './machine.js';
import { OPTS, runs } from './options.js';
import { echoPlotSvg, type PlotSeries } from './plot.js';
import { failed, renderReport, type Failed, type Results } from './report.js';
import { phaseRows, sessionStart, summarizeStarts, type StartSample } from './start.js';
import { throughputBench } from './throughput.js';
import { warmBench } from './warm.js';
import { startWetty, type WettyPeer } from './wetty.js';

let interrupted = false;

async function main(): Promise<number> {
  const bench = new Bench();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}, cleaning up`);
    // The measuring code fails on its next step; main's finally awaits this same cleanup.
    void bench.cleanup();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const startedAt = new Date();
  const runStart = performance.now();
  const results: Results = { machine: await machineInfo(bench.docker), options: OPTS, wetty: {} };
  let anyFailed = false;
  const section = async <T>(name: string, fn: () => Promise<T>): Promise<T | Failed> => {
    log(`--- ${name}`);
    try {
      return await fn();
    } catch (e) {
      if (bench.aborted) throw e;
      anyFailed = true;
      const message = e instanceof Error ? e.message : String(e);
      log(`${name} failed: ${e instanceof Error ? (e.stack ?? message) : message}`);
      return { failed: message };
    }
  };

  try {
    await bench.events.start(bench.docker);
    const onMain = (['cold', 'echo', 'throughput', 'concurrent', 'grading'] as const).some(runs);
    let mainServer: BenchServer | null = null;
    if (onMain) {
      log('starting the server');
      mainServer = await bench.startServer('main');
    }

    let wetty: WettyPeer | { reason: string } | null = null;
    if (runs('wetty') && (runs('echo') || runs('throughput'))) {
      log(`starting wetty ${OPTS.wettyVersion}`);
      const w = await startWetty(bench, OPTS.wettyVersion);
      if (w.ok) {
        wetty = w.peer;
        results.wetty = { version: w.peer.version, command: w.peer.command };
      } else {
        wetty = { reason: w.reason };
        results.wetty = { reason: w.reason };
        log(`wetty cannot run here: ${w.reason}`);
      }
    } else {
      results.wetty = { skipped: true, reason: 'not selected (--only without wetty, or --no-wetty)' };
    }

    if (mainServer) {
      const server = mainServer;
      if (runs('cold')) {
        results.cold = await section(`session start, cold x${OPTS.sessions}`, async () => {
          const samples: StartSample[] = [];
          for (let i = 0; i < OPTS.sessions; i++) samples.push(await sessionStart(server, bench.events, 'cold', i, OPTS.sessions));
          return { samples, summary: summarizeStarts(samples), phases: phaseRows(samples) };
        });
      }
      if (runs('echo')) {
        results.echo = await section(`keystroke echo, ${OPTS.echoSamples} samples per path after ${OPTS.warmup} warm-up`, () => echoBench(server, wetty));
      }
      if (runs('throughput')) {
        results.throughput = await section(`throughput, ${OPTS.throughputMiB} MiB x${OPTS.throughputRuns}`, () => throughputBench(server, wetty));
      }
      if (runs('concurrent')) {
        results.concurrent = await section(`${OPTS.typists} sessions typing`, () => concurrentBench(server));
      }
      if (runs('grading')) {
        results.grading = await section('grading', () => gradingBench(server));
      }
      if (wetty && 'stop' in wetty) await wetty.stop();
      const leftovers = await bench.stopServer(server);
      if (leftovers.length) log(`removed what the main server left: ${leftovers.join(', ')}`);
    }
    if (runs('warm')) results.warm = await section(`session start, warm pool x${OPTS.warmSamples}`, () => warmBench(bench));
    if (runs('idle')) results.idle = await section(`idle sessions ${OPTS.idleCounts.join(', ')}`, () => idleBench(bench));
  } finally {
    const leftovers = await bench.cleanup();
    if (leftovers.length) log(`removed resources a server left behind: ${leftovers.join(', ')}`);
    else log('cleaned up (no engine resources left)');
  }

  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const dir = path.join(REPO_ROOT, 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `core-${stamp}.json`);

  // The echo plot: every echo series, plus the concurrent typists' keys.
  const series: PlotSeries[] = [];
  if (results.echo && !failed(results.echo)) {
    for (const s of results.echo.series) series.push({ name: s.name === 'wetty' ? `wetty ${results.wetty.version ?? ''}`.trim() : s.name === 'direct' ? 'direct exec' : 'opslab', ms: s.ms });
  }
  if (results.concurrent && !failed(results.concurrent)) {
    series.push({ name: `opslab, ${results.concurrent.typists} typing`, ms: results.concurrent.ms, dashed: true });
  }
  if (series.length) {
    const svgFile = file.replace(/\.json$/, '-echo.svg');
    fs.writeFileSync(svgFile, echoPlotSvg(`Keystroke echo latency (${results.machine.nproc} CPU, ${startedAt.toISOString().slice(0, 16)}Z)`, series));
    results.plot = { svg: path.relative(REPO_ROOT, svgFile) };
    try {
      const png = svgFile.replace(/\.svg$/, '.png');
      execFileSync('rsvg-convert', ['-o', png, svgFile], { stdio: 'ignore' });
      results.plot.png = path.relative(REPO_ROOT, png);
    } catch {
      results.plot.pngError = 'rsvg-convert is not installed (apt-get install librsvg2-bin) or failed';
    }
  }

  const { text, targets } = renderReport(results);
  const totalSeconds = (performance.now() - runStart) / 1000;
  fs.writeFileSync(file, `${JSON.stringify({ kind: 'opslab-core-bench', startedAt: startedAt.toISOString(), totalSeconds, ...results, options: { ...OPTS, sections: [...OPTS.sections] }, targets }, null, 2)}\n`);
  const plotLine = results.plot ? `; plot: ${results.plot.svg}${results.plot.png ? ` (+ .png)` : ''}` : '';
  process.stdout.write(`${text}\n\nwhole run: ${totalSeconds.toFixed(1)} s; results: ${path.relative(process.cwd(), file)}${plotLine}\n`);
  return anyFailed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (interrupted) process.exit(130);
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
