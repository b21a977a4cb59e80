/** The printed tables: one per section, then the issue's targets with met / missed. */
import type { ConcurrentResult } from './concurrent.js';
import type { EchoResult } from './echo.js';
import { GRADING_DEFINITION, type LabGrading } from './grading.js';
import type { IdleResult } from './idle.js';
import type { machineInfo } from './machine.js';
import type { Options } from './options.js';
import type { phaseRows, StartSample, StartSummary } from './start.js';
import { fmtMs, summarize, table, type Summary } from './stats.js';
import type { ThroughputResult } from './throughput.js';
import type { WarmResult } from './warm.js';

/** A section that threw: what it said. */
export type Failed = { failed: string };
export const failed = (x: unknown): x is Failed => typeof x === 'object' && x !== null && 'failed' in x;

export interface Results {
  machine: Awaited<ReturnType<typeof machineInfo>>;
  options: Options;
  wetty: { version?: string; command?: string; reason?: string; skipped?: boolean };
  cold?: { samples: StartSample[]; summary: StartSummary; phases: ReturnType<typeof phaseRows> } | Failed;
  warm?: WarmResult | Failed;
  echo?: EchoResult | Failed;
  throughput?: ThroughputResult | Failed;
  concurrent?: ConcurrentResult | Failed;
  idle?: IdleResult | Failed;
  grading?: LabGrading[] | Failed;
  plot?: { svg: string; png?: string; pngError?: string };
}

export interface TargetRow {
  target: string;
  goal: string;
  measured: string;
  status: 'met' | 'MISSED' | 'not measured';
  note?: string;
}

const ms = (v: number, d = 1) => `${fmtMs(v, d)} ms`;

function startTable(title: string, s: StartSummary): string {
  const rows: [string, Summary][] = [
    ['POST -> first prompt byte (WS)', s.firstPromptMs],
    ['POST -> state ready (poll)', s.readyMs],
    ['server provision ("session ready" ms)', s.serverProvisionMs],
    ['POST /end (teardown)', s.endMs],
  ];
  return [
    title,
    table(
      ['metric', 'median', 'p95', 'min', 'max'],
      rows.map(([name, v]) => [name, fmtMs(v.median), fmtMs(v.p95), fmtMs(v.min), fmtMs(v.max)]),
    ),
  ].join('\n');
}

function buildTargets(r: Results): TargetRow[] {
  const rows: TargetRow[] = [];
  const skip = (target: string, goal: string, why: string): TargetRow => ({ target, goal, measured: '-', status: 'not measured', note: why });
  const judge = (target: string, goal: string, measured: string, ok: boolean, note?: string): TargetRow => ({
    target,
    goal,
    measured,
    status: ok ? 'met' : 'MISSED',
    ...(note ? { note } : {}),
  });

  const e = r.echo;
  if (!e) rows.push(skip('echo overhead over direct exec, median', '<= 1 ms', 'section not run'));
  else if (failed(e)) rows.push(skip('echo overhead over direct exec, median', '<= 1 ms', e.failed));
  else rows.push(judge('echo overhead over direct exec, median', '<= 1 ms', ms(e.overheadMedianMs, 2), e.overheadMedianMs <= 1, `ratio ${e.ratioMedian.toFixed(2)}x`));

  const c = r.concurrent;
  const cName = `echo p99, ${c && !failed(c) ? c.typists : r.options.typists} sessions typing`;
  if (!c) rows.push(skip(cName, '<= 10 ms', 'section not run'));
  else if (failed(c)) rows.push(skip(cName, '<= 10 ms', c.failed));
  else rows.push(judge(cName, '<= 10 ms', ms(c.summary.p99, 2), c.summary.p99 <= 10, c.typists !== 20 ? 'the target is for 20' : undefined));

  const cold = r.cold;
  const coldName = 'session ready, cold, median (POST -> first prompt byte)';
  if (!cold) rows.push(skip(coldName, '<= 1.0 s', 'section not run'));
  else if (failed(cold)) rows.push(skip(coldName, '<= 1.0 s', cold.failed));
  else rows.push(judge(coldName, '<= 1.0 s', ms(cold.summary.firstPromptMs.median, 0), cold.summary.firstPromptMs.median <= 1000));

  const w = r.warm;
  const warmName = 'session ready from a warm pool, median (POST -> first prompt byte)';
  if (!w) rows.push(skip(warmName, '<= 250 ms', 'section not run'));
  else if (failed(w)) rows.push(skip(warmName, '<= 250 ms', w.failed));
  else if (!w.available || !w.summary) rows.push(skip(warmName, '<= 250 ms', `warm pool: not available in this server (${w.reason ?? ''})`));
  else {
    const hits = w.poolHits ? `pool hits ${w.poolHits.before}/${w.samples.length}` : undefined;
    rows.push(judge(warmName, '<= 250 ms', ms(w.summary.firstPromptMs.median, 0), w.summary.firstPromptMs.median <= 250, hits));
  }

  const t = r.throughput;
  const tName = 'throughput to one client (opslab, median)';
  const op = t && !failed(t) ? t.series.find((s) => s.name === 'opslab') : undefined;
  if (!t) rows.push(skip(tName, '>= 30 MB/s', 'section not run'));
  else if (failed(t)) rows.push(skip(tName, '>= 30 MB/s', t.failed));
  else if (op) rows.push(judge(tName, '>= 30 MB/s', `${op.mbPerS.median.toFixed(1)} MB/s`, op.mbPerS.median >= 30 && op.complete, op.complete ? undefined : 'output incomplete'));

  const idle = r.idle;
  const iName = 'server memory (RSS) with 100 idle sessions';
  if (!idle) rows.push(skip(iName, '<= 300 MB', 'section not run'));
  else if (failed(idle)) rows.push(skip(iName, '<= 300 MB', idle.failed));
  else {
    const top = idle.samples.at(-1);
    if (!top || top.sessions === 0) rows.push(skip(iName, '<= 300 MB', idle.error ?? 'no session was started'));
    else rows.push(judge(iName, '<= 300 MB', `${top.rssMB.median.toFixed(0)} MB`, top.rssMB.median <= 300, top.sessions !== 100 ? `measured at ${top.sessions} sessions` : undefined));
  }

  const wName = 'echo and throughput against wetty';
  const ew = e && !failed(e) ? e.series.find((s) => s.name === 'wetty') : undefined;
  const tw = t && !failed(t) ? t.series.find((s) => s.name === 'wetty') : undefined;
  if (r.wetty.reason && !ew && !tw) rows.push(skip(wName, 'better on both', `wetty: ${r.wetty.reason}`));
  else if (!ew || !tw || !op || !e || failed(e)) rows.push(skip(wName, 'better on both', 'needs the echo and throughput sections with wetty'));
  else {
    const eo = e.series[0]!.summary;
    const echoBetter = eo.median < ew.summary.median && eo.p99 < ew.summary.p99;
    const tpBetter = op.mbPerS.median > tw.mbPerS.median;
    rows.push(
      judge(
        wName,
        'better on both',
        `echo p50 ${fmtMs(eo.median, 2)} vs ${fmtMs(ew.summary.median, 2)} ms, p99 ${fmtMs(eo.p99, 2)} vs ${fmtMs(ew.summary.p99, 2)} ms; ${op.mbPerS.median.toFixed(1)} vs ${tw.mbPerS.median.toFixed(1)} MB/s`,
        echoBetter && tpBetter,
        `echo ${echoBetter ? 'better' : 'not better'}, throughput ${tpBetter ? 'better' : 'not better'}`,
      ),
    );
  }
  return rows;
}

export function renderReport(r: Results): { text: string; targets: TargetRow[] } {
  const m = r.machine;
  const out: string[] = [];
  const o = r.options;
  out.push(
    `machine: ${m.nproc} CPU (${m.cpuModel}), ${m.memGiB} GiB, kernel ${m.kernel}, ` +
      `Docker ${m.docker.version} (${m.docker.storageDriver ?? '?'}, cgroup v${m.docker.cgroupVersion ?? '?'}), Node ${m.node}`,
  );
  out.push(`sections: ${[...o.sections].join(', ')}; lab ${o.lab}`);

  if (r.cold) {
    out.push('');
    if (failed(r.cold)) out.push(`Session start, cold: FAILED: ${r.cold.failed}`);
    else {
      out.push(startTable(`Session start, cold (lab ${o.lab}, n=${r.cold.samples.length}, poll every ${o.pollMs} ms), ms`, r.cold.summary));
      const probes = summarize(r.cold.samples.map((s) => s.engine.shellProbes));
      out.push('');
      out.push(`Where the cold start time goes (median over sessions; shell-up probes per start: median ${probes.median}, max ${probes.max}), ms`);
      out.push(
        table(
          ['milestone (from POST sent)', 'at median', 'step median', 'step p95'],
          r.cold.phases.map((p) => [p.phase, fmtMs(p.at.median), fmtMs(p.delta.median), fmtMs(p.delta.p95)]),
        ),
      );
    }
  }
  if (r.warm) {
    out.push('');
    if (failed(r.warm)) out.push(`Session start, warm pool: FAILED: ${r.warm.failed}`);
    else if (!r.warm.available || !r.warm.summary) out.push(`Session start, warm pool: warm pool: not available in this server (${r.warm.reason ?? ''})`);
    else {
      const h = r.warm.poolHits;
      out.push(
        startTable(
          `Session start from a warm pool (OPSLAB_POOLS=${o.lab}=${o.poolSize}, n=${r.warm.samples.length}; ${r.warm.refill ?? ''}; ` +
            `workspace container made before the POST in ${h?.before ?? '?'}/${r.warm.samples.length}), ms`,
          r.warm.summary,
        ),
      );
      if (r.warm.phases) {
        out.push('');
        out.push('Where the warm start time goes (client-side milestones, median over sessions), ms');
        out.push(
          table(
            ['milestone (from POST sent)', 'at median', 'step median', 'step p95'],
            r.warm.phases.map((p) => [p.phase, fmtMs(p.at.median), fmtMs(p.delta.median), fmtMs(p.delta.p95)]),
          ),
        );
      }
    }
  }
  if (r.echo) {
    out.push('');
    if (failed(r.echo)) out.push(`Keystroke echo: FAILED: ${r.echo.failed}`);
    else {
      const e = r.echo;
      out.push(`Keystroke echo, one session (send -> first output chunk), n=${e.series[0]?.summary.n ?? 0} each, blocks of ${o.block}, ms`);
      const label: Record<string, string> = {
        opslab: 'opslab (WebSocket)',
        direct: 'direct dockerode TTY exec',
        wetty: `wetty ${r.wetty.version ?? ''} (socket.io${e.wetty.transport ? `/${e.wetty.transport}` : ''}, docker exec -it)`,
      };
      out.push(
        table(
          ['path', 'median', 'p90', 'p99', 'min', 'max', 'chunks/key'],
          e.series.map((s) => [
            label[s.name] ?? s.name,
            fmtMs(s.summary.median, 2),
            fmtMs(s.summary.p90, 2),
            fmtMs(s.summary.p99, 2),
            fmtMs(s.summary.min, 2),
            fmtMs(s.summary.max, 2),
            fmtMs(summarize(s.chunks).mean, 2),
          ]),
        ),
      );
      out.push(
        `opslab over direct: median +${fmtMs(e.overheadMedianMs, 2)} ms (${e.ratioMedian.toFixed(2)}x), p99 +${fmtMs(e.overheadP99Ms, 2)} ms (${e.ratioP99.toFixed(2)}x)` +
          (e.wetty.ran ? '' : `; wetty: ${e.wetty.reason ?? r.wetty.reason ?? 'not run'}`),
      );
    }
  }
  if (r.throughput) {
    out.push('');
    if (failed(r.throughput)) out.push(`Throughput: FAILED: ${r.throughput.failed}`);
    else {
      const t = r.throughput;
      out.push(
        `Output throughput to one client (head -c ${t.mib}M /dev/zero | base64, Enter -> end marker; MB = 10^6 bytes received; ` +
          `${o.throughputRuns} run(s), a fresh session each; opslab acks as the web app, wetty commits as its page)`,
      );
      out.push(
        table(
          ['path', 'median MB/s', 'min', 'max', 'MB received', 'all bytes arrived'],
          t.series.map((s) => [
            s.name,
            s.mbPerS.median.toFixed(1),
            s.mbPerS.min.toFixed(1),
            s.mbPerS.max.toFixed(1),
            ((s.samples[0]?.bytes ?? 0) / 1e6).toFixed(1),
            s.complete ? 'yes' : 'NO',
          ]),
        ),
      );
      if (!t.wetty.ran) out.push(`wetty: ${t.wetty.reason ?? r.wetty.reason ?? 'not run'}`);
    }
  }
  if (r.concurrent) {
    out.push('');
    if (failed(r.concurrent)) out.push(`Concurrent typing: FAILED: ${r.concurrent.failed}`);
    else {
      const c = r.concurrent;
      out.push(`Keystroke echo with ${c.typists} sessions typing at once (a key every ~${c.intervalMs} ms each, ${o.typingSamples} keys each), ms`);
      out.push(
        table(
          ['series', 'n', 'median', 'p90', 'p99', 'max', 'timeouts'],
          [
            ['all keys', String(c.summary.n), fmtMs(c.summary.median, 2), fmtMs(c.summary.p90, 2), fmtMs(c.summary.p99, 2), fmtMs(c.summary.max, 2), String(c.timeouts)],
            ['per-session medians', String(c.perTypistMedian.n), fmtMs(c.perTypistMedian.median, 2), fmtMs(c.perTypistMedian.p90, 2), fmtMs(c.perTypistMedian.p99, 2), fmtMs(c.perTypistMedian.max, 2), ''],
          ],
        ),
      );
    }
  }
  if (r.idle) {
    out.push('');
    if (failed(r.idle)) out.push(`Idle sessions: FAILED: ${r.idle.failed}`);
    else {
      const i = r.idle;
      out.push(
        `Server process with idle sessions (a server of its own; ${o.idleViewers ? 'one candidate WebSocket open per session' : 'no WebSocket open'}; ` +
          `${o.idleWindowS} s window after ${o.idleSettleS} s settling; RSS from /proc/<pid>/status, CPU % of one core from /proc/<pid>/stat)`,
      );
      out.push(
        table(
          ['sessions', 'viewers', 'RSS MB median', 'RSS MB max', 'MB/session over 0', 'CPU %', 'children RSS MB', 'children CPU %', 'fill s'],
          i.samples.map((s) => [
            String(s.sessions),
            String(s.viewers),
            s.rssMB.median.toFixed(0),
            s.rssMB.max.toFixed(0),
            s.sessions > 0 && i.samples[0] ? ((s.rssMB.median - i.samples[0].rssMB.median) / s.sessions).toFixed(2) : '',
            s.cpuPct.toFixed(1),
            s.childrenRssMB.median.toFixed(0),
            s.childrenCpuPct.toFixed(1),
            i.fillSeconds[String(s.sessions)]?.toFixed(0) ?? '',
          ]),
        ),
      );
      if (i.error) out.push(`stopped early: ${i.error}`);
    }
  }
  if (r.grading) {
    out.push('');
    if (failed(r.grading)) out.push(`Grading: FAILED: ${r.grading.failed}`);
    else {
      out.push(`Grading time per lab (attempt: ${o.gradeAttempt === 'solution' ? 'the reference solution' : 'the untouched starter'}, ${o.gradeRuns} grading(s) each, medians, ms)`);
      out.push(`  ${GRADING_DEFINITION}`);
      out.push(
        table(
          ['lab', 'checks', 'score', 'wall', 'built-in', 'built-in max', 'command', 'note'],
          r.grading.map((g) => [
            g.lab,
            Object.entries(g.checks).map(([k, v]) => `${v} ${k}`).join(', '),
            g.runs.length ? `${g.runs.at(-1)!.score}/${g.runs.at(-1)!.maxScore}` : '-',
            fmtMs(g.wall.median, 0),
            fmtMs(g.builtin.median, 0),
            fmtMs(g.builtinMax.median, 0),
            fmtMs(g.command.median, 0),
            g.error ? `FAILED: ${g.error.slice(0, 80)}` : '',
          ]),
        ),
      );
    }
  }
  const targets = buildTargets(r);
  out.push('');
  out.push('Targets (issue 7)');
  out.push(table(['target', 'goal', 'measured', 'status', 'note'], targets.map((t) => [t.target, t.goal, t.measured, t.status, t.note ?? ''])));
  return { text: out.join('\n'), targets };
}
