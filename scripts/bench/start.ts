/**
 * Session start: POST /api/sessions → state `ready` (polled every 25 ms, like the web
 * app) → terminal ticket → WebSocket → the first output frame holding the prompt. Each
 * session is ended before the next starts. Engine events and the server's
 * `session ready` log line split the time into phases.
 */
import { performance } from 'node:perf_hooks';
import type Docker from 'dockerode';
import type { EventLog } from './events.js';
import type { BenchServer } from './harness.js';
import { log } from './harness.js';
import { fmtMs, summarize, type Summary } from './stats.js';

export interface StartSample {
  sessionId: string;
  /** All ms from sending the POST. */
  postReturned: number;
  readySeen: number;
  polls: number;
  ticket: number;
  wsOpen: number;
  hello: number;
  prompt: number;
  serverProvisionMs: number | null;
  endMs: number;
  engine: ReturnType<EventLog['milestones']>;
  readyLogged: number;
  /**
   * ms from the POST to the creation of the session's workspace container (negative: it
   * was made before the request, i.e. taken from a warm pool); null when no container
   * carries the session's label.
   */
  containerCreatedMs: number | null;
}

function readyLogLine(logText: string, sessionId: string): { time: number; ms: number } | null {
  for (const line of logText.split('\n')) {
    if (!line.includes('"session ready"') || !line.includes(sessionId)) continue;
    try {
      const j = JSON.parse(line) as { time: number; ms: number; sessionId: string };
      if (j.sessionId === sessionId) return { time: j.time, ms: j.ms };
    } catch {
      // not JSON
    }
  }
  return null;
}

/** When the session's workspace container was created, wall-clock ms (null if none is labelled with it). */
async function containerCreatedAt(docker: Docker, sessionId: string): Promise<number | null> {
  const list = await docker.listContainers({ all: true, filters: { label: [`opslab.session=${sessionId}`] } });
  const ws = list.find((c) => c.Labels['opslab.role'] === 'workspace') ?? list[0];
  if (!ws) return null;
  const info = await docker.getContainer(ws.Id).inspect();
  const t = Date.parse(info.Created);
  // Date.parse drops sub-millisecond digits, which is all the precision needed here.
  return Number.isFinite(t) ? t : null;
}

export async function sessionStart(
  bs: BenchServer,
  events: EventLog,
  label: string,
  i: number,
  total: number,
  lab?: string,
): Promise<StartSample> {
  const { session, t0, postReturned } = await bs.create(lab);
  const wall0 = performance.timeOrigin + t0;
  const ready = await bs.pollReady(session.id);
  const c = await bs.connect(session.id, session.candidateToken);
  await bs.closeTerminal(c.term);
  const created = await containerCreatedAt(bs.bench.docker, session.id).catch(() => null);
  const endMs = await bs.end(session.id);
  const readyLog = readyLogLine(bs.logText(), session.id);
  const engine = events.milestones(session.id);
  const rel = (wall: number) => wall - wall0;
  const sample: StartSample = {
    sessionId: session.id,
    postReturned: postReturned - t0,
    readySeen: ready.at - t0,
    polls: ready.polls,
    ticket: c.ticketAt - t0,
    wsOpen: c.wsOpen - t0,
    hello: c.hello - t0,
    prompt: c.prompt - t0,
    serverProvisionMs: readyLog?.ms ?? null,
    endMs,
    engine: Object.fromEntries(Object.entries(engine).map(([k, v]) => [k, k === 'shellProbes' ? v : rel(v)])) as typeof engine,
    readyLogged: readyLog ? rel(readyLog.time) : Number.NaN,
    containerCreatedMs: created === null ? null : rel(created),
  };
  log(
    `  ${label} ${i + 1}/${total}: ready ${fmtMs(sample.readySeen, 0)} ms, prompt ${fmtMs(sample.prompt, 0)} ms, end ${fmtMs(endMs, 0)} ms`,
  );
  return sample;
}

export interface StartSummary {
  n: number;
  readyMs: Summary;
  firstPromptMs: Summary;
  serverProvisionMs: Summary;
  endMs: Summary;
}

export function summarizeStarts(samples: StartSample[]): StartSummary {
  return {
    n: samples.length,
    readyMs: summarize(samples.map((s) => s.readySeen)),
    firstPromptMs: summarize(samples.map((s) => s.prompt)),
    serverProvisionMs: summarize(samples.map((s) => s.serverProvisionMs ?? Number.NaN).filter(Number.isFinite)),
    endMs: summarize(samples.map((s) => s.endMs)),
  };
}

/** Milestones seen by the client only (for warm starts, where the engine work happened before the POST). */
const CLIENT_MILESTONES = new Set(['POST returned (201)', 'state ready seen by poll', 'terminal ticket issued', 'WebSocket open', 'hello received', 'first prompt frame']);

export function phaseRows(samples: StartSample[], clientOnly = false) {
  type Getter = (s: StartSample) => number;
  const all: [string, Getter][] = [
    ['POST returned (201)', (s) => s.postReturned],
    ['network created', (s) => s.engine.networkCreated],
    ['volumes created', (s) => s.engine.volumesCreated],
    ['workspace container created', (s) => s.engine.workspaceCreated],
    ['workspace container started', (s) => s.engine.workspaceStarted],
    ['grader container created', (s) => s.engine.graderCreated],
    ['grader container started', (s) => s.engine.graderStarted],
    ['shell up (last `test -s` exec done)', (s) => s.engine.shellUp],
    ['starter repo built on host (copy begins)', (s) => s.engine.copyStarted],
    ['starter repo extracted in container', (s) => s.engine.archiveExtracted],
    ['old tty reader pkill done', (s) => s.engine.oldReaderKilled],
    ['stdin attached', (s) => s.engine.stdinAttached],
    ['output history read (exec done)', (s) => s.engine.historyRead],
    ['tty reader exec started', (s) => s.engine.readerStarted],
    ['tty resized', (s) => s.engine.ttyResized],
    ['"session ready" logged', (s) => s.readyLogged],
    ['state ready seen by poll', (s) => s.readySeen],
    ['terminal ticket issued', (s) => s.ticket],
    ['WebSocket open', (s) => s.wsOpen],
    ['hello received', (s) => s.hello],
    ['first prompt frame', (s) => s.prompt],
  ];
  const milestones = clientOnly ? all.filter(([name]) => CLIENT_MILESTONES.has(name)) : all;
  const rows: { phase: string; at: Summary; delta: Summary }[] = [];
  // Each step is measured from the sample's previous milestone that was seen (some are missing, e.g. on warm starts).
  const prev = samples.map(() => 0);
  for (const [name, get] of milestones) {
    const at = samples.map(get);
    const delta = at.map((v, i) => v - (prev[i] ?? 0));
    at.forEach((v, i) => {
      if (Number.isFinite(v)) prev[i] = v;
    });
    rows.push({ phase: name, at: summarize(at.filter(Number.isFinite)), delta: summarize(delta.filter(Number.isFinite)) });
  }
  return rows;
}
