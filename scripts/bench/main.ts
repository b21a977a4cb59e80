/**
 * `npm run bench`: core latency benchmarks against a real opslab server (Docker driver).
 *
 *  1. Session start: POST /api/sessions → state `ready` (polled every 25 ms, like the web
 *     app) → terminal ticket → WebSocket → first output frame holding the prompt. Each
 *     session is ended before the next starts. Docker engine events and the server's
 *     `session ready` log line split the time into phases.
 *  2. Keystroke echo: one session; single keys sent over the candidate WebSocket vs over a
 *     direct dockerode TTY exec (bash) into the same workspace container, alternating in
 *     blocks so background noise hits both alike.
 *
 * Flags: --sessions N (20), --echo-samples N (500), --warmup N (50), --block N (100).
 * Prints a table and writes bench-results/core-<timestamp>.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { REPO_ROOT, ServerProcess } from '../../test/helpers/server-process.js';
import { ticketFor, type CreatedSession } from '../../test/helpers/session-flow.js';
import { stripAnsi } from '../../test/helpers/terminal-client.js';
import { fmtMs, summarize, table, type Summary } from './stats.js';
import { BenchTerminal } from './term.js';

// ---------------------------------------------------------------------------- options

function intFlag(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  const raw = args[i]?.includes('=') ? args[i]?.split('=')[1] : args[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got ${String(raw)}`);
  return n;
}

const OPTS = {
  sessions: intFlag('sessions', 20),
  echoSamples: intFlag('echo-samples', 500),
  warmup: intFlag('warmup', 50),
  block: Math.max(1, intFlag('block', 100)),
  pollMs: 25,
  /** After an echo's first frame, wait until the terminal is quiet this long before the next key. */
  quietMs: 3,
  lab: 'hello',
};

const PROMPT_MARK = 'candidate@opslab';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------- machine

async function machineInfo(docker: Docker) {
  let model = 'unknown';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    // not Linux
  }
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // no coreutils
  }
  const [version, info] = await Promise.all([docker.version(), docker.info() as Promise<Record<string, unknown>>]);
  return {
    nproc,
    cpuModel: model,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    docker: {
      version: version.Version,
      apiVersion: version.ApiVersion,
      storageDriver: info.Driver as string | undefined,
      cgroupVersion: info.CgroupVersion as string | undefined,
    },
  };
}

// ---------------------------------------------------------------------------- engine events

interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  timeNano: number;
}

class EventLog {
  readonly events: EngineEvent[] = [];
  private stream: (NodeJS.ReadableStream & { destroy?: () => void }) | null = null;

  async start(docker: Docker): Promise<void> {
    const stream = (await docker.getEvents({ since: Math.floor(Date.now() / 1000) - 1 })) as NodeJS.ReadableStream & {
      destroy?: () => void;
    };
    this.stream = stream;
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.events.push(JSON.parse(line) as EngineEvent);
        } catch {
          // partial or foreign line
        }
      }
    });
    stream.on('error', () => undefined);
  }

  stop(): void {
    this.stream?.destroy?.();
    this.stream = null;
  }

  /** Engine milestones (wall-clock ms) for one session's sandbox. */
  milestones(sessionId: string) {
    const base = `opslab-${sessionId}`;
    const mine = this.events.filter((e) => {
      const name = e.Actor.Attributes?.name ?? e.Actor.ID;
      return name === base || name.startsWith(`${base}-`);
    });
    const at = (e: EngineEvent | undefined) => (e ? e.timeNano / 1e6 : Number.NaN);
    const find = (pred: (e: EngineEvent) => boolean) => mine.find(pred);
    const execCmd = new Map<string, string>();
    for (const e of mine) {
      if (e.Action.startsWith('exec_create: ')) execCmd.set(e.Actor.Attributes?.execID ?? '', e.Action.slice('exec_create: '.length));
    }
    const cmdOf = (e: EngineEvent) => execCmd.get(e.Actor.Attributes?.execID ?? '') ?? '';
    const ws = `${base}-workspace`;
    const gr = `${base}-grader`;
    const named = (e: EngineEvent, n: string) => (e.Actor.Attributes?.name ?? e.Actor.ID) === n;
    const probes = mine.filter((e) => e.Action === 'exec_die' && cmdOf(e).includes('test -s'));
    const shellUp = at(probes.at(-1));
    const after = (t: number, pred: (e: EngineEvent) => boolean) => at(mine.find((e) => e.timeNano / 1e6 >= t && pred(e)));
    const extracted = at(find((e) => e.Action === 'extract-to-dir' && named(e, ws)));
    const readerStarted = at(find((e) => e.Action.startsWith('exec_start: ') && e.Action.includes('opslab-tty-reader tail')));
    return {
      networkCreated: at(find((e) => e.Type === 'network' && e.Action === 'create')),
      volumesCreated: at(find((e) => e.Type === 'volume' && e.Action === 'create' && e.Actor.ID === `${base}-tty`)),
      workspaceCreated: at(find((e) => e.Type === 'container' && e.Action === 'create' && named(e, ws))),
      workspaceStarted: at(find((e) => e.Type === 'container' && e.Action === 'start' && named(e, ws))),
      graderCreated: at(find((e) => e.Type === 'container' && e.Action === 'create' && named(e, gr))),
      graderStarted: at(find((e) => e.Type === 'container' && e.Action === 'start' && named(e, gr))),
      shellUp,
      shellProbes: probes.length,
      // putArchive mounts the container's volumes first: that marks the end of the host-side starter repo build.
      copyStarted: after(shellUp, (e) => e.Type === 'volume' && e.Action === 'mount' && e.Actor.ID === ws),
      archiveExtracted: extracted,
      oldReaderKilled: after(extracted, (e) => e.Action === 'exec_die' && cmdOf(e).includes('pkill')),
      stdinAttached: after(extracted, (e) => e.Action === 'attach' && named(e, ws)),
      historyRead: after(extracted, (e) => e.Action === 'exec_die' && cmdOf(e).includes('stat -c %s')),
      readerStarted,
      ttyResized: after(readerStarted, (e) => e.Action === 'resize' && named(e, ws)),
    };
  }
}

// ---------------------------------------------------------------------------- server log

function readyLogLine(server: ServerProcess, sessionId: string): { time: number; ms: number } | null {
  for (const line of server.log.join('').split('\n')) {
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

// ---------------------------------------------------------------------------- session flow

interface StartSample {
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
}

class Bench {
  readonly docker = new Docker();
  readonly events = new EventLog();
  server: ServerProcess | null = null;
  readonly live = new Set<string>();
  readonly allSessions: string[] = [];
  readonly terminals = new Set<BenchTerminal>();
  readonly streams = new Set<Duplex>();
  /** The server's installation id (the `opslab.owner` label): everything it made carries it. */
  ownerId: string | null = null;
  aborted = false;
  private cleaning: Promise<string[]> | null = null;

  async createSession(): Promise<{ session: CreatedSession; t0: number; postReturned: number }> {
    const server = this.server!;
    if (this.aborted) throw new Error('interrupted');
    const t0 = performance.now();
    const r = await server.api<CreatedSession>('POST', '/api/sessions', { body: { lab: OPTS.lab, candidate: { name: 'Bench Mark' } } });
    const postReturned = performance.now();
    if (r.status !== 201) throw new Error(`create session: ${r.status} ${JSON.stringify(r.body)}`);
    this.live.add(r.body.id);
    this.allSessions.push(r.body.id);
    return { session: r.body, t0, postReturned };
  }

  async pollReady(id: string, timeoutMs = 60_000): Promise<{ at: number; polls: number }> {
    const deadline = performance.now() + timeoutMs;
    for (let polls = 1; ; polls++) {
      const r = await this.server!.api<{ state: string; error: string | null }>('GET', `/api/sessions/${id}`);
      const at = performance.now();
      if (r.body.state === 'ready') {
        if (!this.ownerId) {
          const [c] = await this.docker.listContainers({ all: true, filters: { label: [`opslab.session=${id}`] } });
          this.ownerId = c?.Labels['opslab.owner'] ?? null;
        }
        return { at, polls };
      }
      if (r.body.state !== 'starting') throw new Error(`session ${id} is ${r.body.state}: ${r.body.error ?? ''}`);
      if (at > deadline) throw new Error(`session ${id} not ready after ${timeoutMs} ms`);
      await sleep(OPTS.pollMs);
    }
  }

  async connect(id: string, token: string) {
    const ticket = await ticketFor(this.server!, id, token, { write: true });
    const ticketAt = performance.now();
    const term = await BenchTerminal.open(`${this.server!.wsUrl}/api/sessions/${id}/terminal?ticket=${ticket}`);
    this.terminals.add(term);
    const wsOpen = performance.now();
    const hello = await term.waitControl('hello', 10_000);
    const prompt = await term.waitOutput(() => stripAnsi(term.recentText()).includes(PROMPT_MARK), 15_000, 'the prompt');
    return { term, ticketAt, wsOpen, hello, prompt };
  }

  async endSession(id: string): Promise<number> {
    const t = performance.now();
    const r = await this.server!.api('POST', `/api/sessions/${id}/end`);
    if (r.status !== 200 && r.status !== 409) throw new Error(`end session ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    this.live.delete(id);
    return performance.now() - t;
  }

  async sessionStart(i: number): Promise<StartSample> {
    const { session, t0, postReturned } = await this.createSession();
    const wall0 = performance.timeOrigin + t0;
    const ready = await this.pollReady(session.id);
    const c = await this.connect(session.id, session.candidateToken);
    await c.term.close();
    this.terminals.delete(c.term);
    const endMs = await this.endSession(session.id);
    const log = readyLogLine(this.server!, session.id);
    const engine = this.events.milestones(session.id);
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
      serverProvisionMs: log?.ms ?? null,
      endMs,
      engine: Object.fromEntries(
        Object.entries(engine).map(([k, v]) => [k, k === 'shellProbes' ? v : rel(v)]),
      ) as typeof engine,
      readyLogged: log ? rel(log.time) : Number.NaN,
    };
    process.stderr.write(
      `  session ${i + 1}/${OPTS.sessions}: ready ${fmtMs(sample.readySeen, 0)} ms, prompt ${fmtMs(sample.prompt, 0)} ms, end ${fmtMs(endMs, 0)} ms\n`,
    );
    return sample;
  }

  /** Ends live sessions, stops the server, removes anything left; one run however often it is called. */
  cleanup(): Promise<string[]> {
    this.aborted = true;
    this.cleaning ??= this.doCleanup();
    return this.cleaning;
  }

  private async doCleanup(): Promise<string[]> {
    for (const t of this.terminals) await t.close().catch(() => undefined);
    for (const s of this.streams) s.destroy();
    for (const id of [...this.live]) {
      await this.endSession(id).catch((e: unknown) => process.stderr.write(`bench: ending ${id} failed: ${String(e)}\n`));
    }
    await this.server?.stop().catch(() => undefined);
    if (this.server) await fs.promises.rm(this.server.dataDir, { recursive: true, force: true }).catch(() => undefined);
    this.events.stop();
    // Anything the server left behind for our sessions (it should be nothing) is removed here.
    const leftovers: string[] = [];
    const selectors = this.ownerId ? [`opslab.owner=${this.ownerId}`] : this.allSessions.map((id) => `opslab.session=${id}`);
    for (const label of selectors) {
      const filters = { label: [label] };
      const [containers, networks, volumes] = await Promise.all([
        this.docker.listContainers({ all: true, filters }),
        this.docker.listNetworks({ filters }),
        this.docker.listVolumes({ filters }),
      ]).catch(() => [[], [], { Volumes: [] }] as const);
      for (const c of containers) {
        leftovers.push(`container ${c.Names.join(',')}`);
        await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
      for (const n of networks) {
        leftovers.push(`network ${n.Name}`);
        await this.docker.getNetwork(n.Id).remove().catch(() => undefined);
      }
      for (const v of volumes.Volumes ?? []) {
        leftovers.push(`volume ${v.Name}`);
        await this.docker.getVolume(v.Name).remove().catch(() => undefined);
      }
    }
    return leftovers;
  }
}

// ---------------------------------------------------------------------------- keystroke echo

interface EchoTarget {
  name: string;
  send(key: string): void;
  /** Arrival time of the next output chunk. */
  next(timeoutMs: number): Promise<number>;
  lastOutputAt(): number;
  chunks(): number;
}

function opslabTarget(term: BenchTerminal): EchoTarget {
  return {
    name: 'opslab',
    send: (k) => term.type(k),
    next: async (t) => (await term.nextFrame(t)).at,
    lastOutputAt: () => term.frames.at(-1)?.at ?? 0,
    chunks: () => term.frames.length,
  };
}

async function directTarget(docker: Docker, container: string, bench: Bench): Promise<EchoTarget> {
  const exec = await docker.getContainer(container).exec({
    Cmd: ['bash', '--norc', '--noprofile'],
    User: '1000',
    WorkingDir: '/workspace',
    Env: ['TERM=xterm-256color', 'LANG=C.UTF-8', 'PS1=direct$ '],
    Tty: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
  bench.streams.add(stream);
  let last = 0;
  let count = 0;
  let text = '';
  let listeners: ((at: number) => void)[] = [];
  stream.on('data', (d: Buffer) => {
    const at = performance.now();
    last = at;
    count++;
    text = (text + d.toString('latin1')).slice(-4096);
    const ls = listeners;
    listeners = [];
    for (const l of ls) l(at);
  });
  stream.on('error', () => undefined);
  const target: EchoTarget = {
    name: 'direct',
    send: (k) => stream.write(k),
    next: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`direct exec: no output within ${timeoutMs} ms`)), timeoutMs);
        listeners.push((at) => {
          clearTimeout(t);
          resolve(at);
        });
      }),
    lastOutputAt: () => last,
    chunks: () => count,
  };
  const deadline = performance.now() + 10_000;
  while (!text.includes('direct$ ')) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`direct exec: no prompt; got ${JSON.stringify(text)}`);
    await target.next(left).catch(() => undefined);
  }
  return target;
}

/** One keystroke: time from send to the first output chunk after it, then wait for quiet. */
async function echoOnce(target: EchoTarget, key: string): Promise<{ ms: number; chunks: number }> {
  const before = target.chunks();
  const next = target.next(5_000);
  const t = performance.now();
  target.send(key);
  const at = await next;
  for (;;) {
    const idle = performance.now() - target.lastOutputAt();
    if (idle >= OPTS.quietMs) break;
    await sleep(OPTS.quietMs - idle);
  }
  return { ms: at - t, chunks: target.chunks() - before };
}

async function echoBench(bench: Bench) {
  const { session } = await bench.createSession();
  await bench.pollReady(session.id);
  const c = await bench.connect(session.id, session.candidateToken);
  // Let the login banner and prompt settle.
  await sleep(300);
  const opslab = opslabTarget(c.term);
  const direct = await directTarget(bench.docker, `opslab-${session.id}-workspace`, bench);
  await sleep(100);

  const results: Record<string, { ms: number[]; chunks: number[] }> = {
    opslab: { ms: [], chunks: [] },
    direct: { ms: [], chunks: [] },
  };
  let keyIndex = 0;
  const run = async (target: EchoTarget, n: number, record: boolean) => {
    for (let i = 0; i < n; i++) {
      // x then DEL: the line never grows, and both keys echo through readline.
      const key = keyIndex++ % 2 === 0 ? 'x' : '\x7f';
      const r = await echoOnce(target, key);
      if (record) {
        results[target.name]!.ms.push(r.ms);
        results[target.name]!.chunks.push(r.chunks);
      }
    }
    // Leave the line empty for the other target's turn (its key count is even when n is).
    if (keyIndex % 2 === 1) {
      await echoOnce(target, '\x7f');
      keyIndex++;
    }
  };
  await run(opslab, OPTS.warmup, false);
  await run(direct, OPTS.warmup, false);
  for (let done = 0; done < OPTS.echoSamples; done += OPTS.block) {
    const n = Math.min(OPTS.block, OPTS.echoSamples - done);
    await run(opslab, n, true);
    await run(direct, n, true);
  }
  await bench.endSession(session.id);
  await c.term.close();
  bench.terminals.delete(c.term);
  return { sessionId: session.id, opslab: results.opslab!, direct: results.direct! };
}

// ---------------------------------------------------------------------------- report

function phaseRows(samples: StartSample[]) {
  type Getter = (s: StartSample) => number;
  const milestones: [string, Getter][] = [
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
  const rows: { phase: string; at: Summary; delta: Summary }[] = [];
  let prev: Getter = () => 0;
  for (const [name, get] of milestones) {
    const p = prev;
    const at = samples.map(get).filter(Number.isFinite);
    const delta = samples.map((s) => get(s) - p(s)).filter(Number.isFinite);
    rows.push({ phase: name, at: summarize(at), delta: summarize(delta) });
    prev = get;
  }
  return rows;
}

async function main(): Promise<void> {
  const bench = new Bench();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`bench: ${sig}, cleaning up\n`);
    // The measuring code fails on its next step; main's finally awaits this same cleanup.
    void bench.cleanup();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const startedAt = new Date();
  const runStart = performance.now();
  const machine = await machineInfo(bench.docker);
  let output: Record<string, unknown> | null = null;
  let report = '';
  try {
    await bench.events.start(bench.docker);
    process.stderr.write('bench: starting the server\n');
    bench.server = await ServerProcess.start();

    process.stderr.write(`bench: session start x${OPTS.sessions}\n`);
    const starts: StartSample[] = [];
    for (let i = 0; i < OPTS.sessions; i++) starts.push(await bench.sessionStart(i));

    process.stderr.write(`bench: keystroke echo, ${OPTS.echoSamples} samples each after ${OPTS.warmup} warm-up\n`);
    const echo = await echoBench(bench);

    // ---- tables
    const ready = summarize(starts.map((s) => s.readySeen));
    const prompt = summarize(starts.map((s) => s.prompt));
    const provision = summarize(starts.map((s) => s.serverProvisionMs ?? Number.NaN).filter(Number.isFinite));
    const endS = summarize(starts.map((s) => s.endMs));
    const probes = summarize(starts.map((s) => s.engine.shellProbes));
    const eo = summarize(echo.opslab.ms);
    const ed = summarize(echo.direct.ms);
    const phases = phaseRows(starts);

    const lines: string[] = [];
    lines.push(
      `machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memGiB} GiB, kernel ${machine.kernel}, ` +
        `Docker ${machine.docker.version} (${machine.docker.storageDriver ?? '?'}, cgroup v${machine.docker.cgroupVersion ?? '?'}), Node ${machine.node}`,
    );
    lines.push('');
    lines.push(`Session start (lab ${OPTS.lab}, n=${starts.length}, poll every ${OPTS.pollMs} ms), ms`);
    lines.push(
      table(
        ['metric', 'median', 'p95', 'min', 'max'],
        [
          ['POST -> state ready (poll)', ready],
          ['POST -> first prompt byte (WS)', prompt],
          ['server provision ("session ready" ms)', provision],
          ['POST /end (teardown)', endS],
        ].map(([name, s]) => {
          const v = s as Summary;
          return [name as string, fmtMs(v.median), fmtMs(v.p95), fmtMs(v.min), fmtMs(v.max)];
        }),
      ),
    );
    lines.push('');
    lines.push(`Where the start time goes (median over sessions; shell-up probes per start: median ${probes.median}, max ${probes.max}), ms`);
    lines.push(
      table(
        ['milestone (from POST sent)', 'at median', 'step median', 'step p95'],
        phases.map((p) => [p.phase, fmtMs(p.at.median), fmtMs(p.delta.median), fmtMs(p.delta.p95)]),
      ),
    );
    lines.push('');
    lines.push(`Keystroke echo (send -> first output frame), n=${eo.n} each, blocks of ${OPTS.block}, ms`);
    lines.push(
      table(
        ['path', 'median', 'p90', 'p99', 'min', 'max', 'frames/key'],
        [
          ['opslab (WebSocket)', eo, echo.opslab.chunks],
          ['direct dockerode TTY exec', ed, echo.direct.chunks],
        ].map(([name, s, ch]) => {
          const v = s as Summary;
          return [
            name as string,
            fmtMs(v.median, 2),
            fmtMs(v.p90, 2),
            fmtMs(v.p99, 2),
            fmtMs(v.min, 2),
            fmtMs(v.max, 2),
            fmtMs(summarize(ch as number[]).mean, 2),
          ];
        }),
      ),
    );
    lines.push(
      `median ratio opslab/direct: ${(eo.median / ed.median).toFixed(2)}x, difference: ${fmtMs(eo.median - ed.median, 2)} ms`,
    );
    report = lines.join('\n');

    output = {
      kind: 'opslab-core-bench',
      startedAt: startedAt.toISOString(),
      options: OPTS,
      machine,
      sessionStart: {
        readyMs: ready,
        firstPromptMs: prompt,
        serverProvisionMs: provision,
        endMs: endS,
        phases,
        samples: starts,
      },
      echo: {
        sessionId: echo.sessionId,
        opslab: eo,
        direct: ed,
        medianRatio: eo.median / ed.median,
        medianDiffMs: eo.median - ed.median,
        samples: echo,
      },
    };
  } finally {
    const leftovers = await bench.cleanup();
    if (leftovers.length) process.stderr.write(`bench: removed resources the server left behind: ${leftovers.join(', ')}\n`);
    else process.stderr.write(`bench: cleaned up (no engine resources left for ${bench.allSessions.length} sessions)\n`);
  }
  if (output) {
    output.totalSeconds = (performance.now() - runStart) / 1000;
    const dir = path.join(REPO_ROOT, 'bench-results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `core-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
    process.stdout.write(`${report}\n\nwhole run: ${(output.totalSeconds as number).toFixed(1)} s; results: ${path.relative(process.cwd(), file)}\n`);
  }
}

let interrupted = false;

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (interrupted) process.exit(130);
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
