/**
 * The bench's hold on everything it starts: opslab servers (each a child process with
 * its own data directory, so its own installation id and `opslab.owner` label),
 * sessions, terminals, direct execs and the wetty peer. `cleanup()` ends all of it,
 * however the run stops, and removes anything a server left in the engine.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { ServerProcess } from '../../test/helpers/server-process.js';
import { ticketFor, type CreatedSession } from '../../test/helpers/session-flow.js';
import { stripAnsi } from '../../test/helpers/terminal-client.js';
import { EventLog } from './events.js';
import { OPTS } from './options.js';
import { BenchTerminal, type AckMode } from './term.js';

export const PROMPT_MARK = 'candidate@opslab';
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` over `items`, at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The workspace container of a session (the docker driver's naming). */
export const workspaceOf = (sessionId: string) => `opslab-${sessionId}-workspace`;

export interface Connected {
  term: BenchTerminal;
  ticketAt: number;
  wsOpen: number;
  hello: number;
  prompt: number;
}

/** One opslab server and the sessions the bench made on it. */
export class BenchServer {
  readonly live = new Set<string>();
  readonly all: string[] = [];
  /** The server's installation id (the `opslab.owner` label): everything it made carries it. */
  ownerId: string | null = null;

  constructor(
    readonly name: string,
    readonly server: ServerProcess,
    readonly bench: Bench,
  ) {}

  get pid(): number {
    const pid = this.server.child?.pid;
    if (pid === undefined) throw new Error(`server ${this.name} is not running`);
    return pid;
  }

  async create(lab = OPTS.lab): Promise<{ session: CreatedSession; t0: number; postReturned: number }> {
    if (this.bench.aborted) throw new Error('interrupted');
    const t0 = performance.now();
    const r = await this.server.api<CreatedSession>('POST', '/api/sessions', { body: { lab, candidate: { name: 'Bench Mark' } } });
    const postReturned = performance.now();
    if (r.status !== 201) throw new Error(`create session: ${r.status} ${JSON.stringify(r.body)}`);
    this.live.add(r.body.id);
    this.all.push(r.body.id);
    return { session: r.body, t0, postReturned };
  }

  async pollReady(id: string, timeoutMs = 60_000): Promise<{ at: number; polls: number }> {
    const deadline = performance.now() + timeoutMs;
    for (let polls = 1; ; polls++) {
      if (this.bench.aborted) throw new Error('interrupted');
      const r = await this.server.api<{ state: string; error: string | null }>('GET', `/api/sessions/${id}`);
      const at = performance.now();
      if (r.body.state === 'ready') {
        if (!this.ownerId) {
          const [c] = await this.bench.docker.listContainers({ all: true, filters: { label: [`opslab.session=${id}`] } });
          this.ownerId = c?.Labels['opslab.owner'] ?? null;
        }
        return { at, polls };
      }
      if (r.body.state !== 'starting') throw new Error(`session ${id} is ${r.body.state}: ${r.body.error ?? ''}`);
      if (at > deadline) throw new Error(`session ${id} not ready after ${timeoutMs} ms`);
      await sleep(OPTS.pollMs);
    }
  }

  /** Creates a session and waits until it is ready. */
  async ready(lab = OPTS.lab, timeoutMs = 60_000): Promise<CreatedSession> {
    const { session } = await this.create(lab);
    await this.pollReady(session.id, timeoutMs);
    return session;
  }

  /** Ticket, WebSocket, hello, then the first frame that shows the prompt. */
  async connect(id: string, token: string, ackMode: AckMode = 'immediate'): Promise<Connected> {
    const ticket = await ticketFor(this.server, id, token, { write: true });
    const ticketAt = performance.now();
    const term = await BenchTerminal.open(`${this.server.wsUrl}/api/sessions/${id}/terminal?ticket=${ticket}`, ackMode);
    this.bench.terminals.add(term);
    const wsOpen = performance.now();
    const hello = await term.waitControl('hello', 10_000);
    const prompt = await term.waitOutput(() => stripAnsi(term.recentText()).includes(PROMPT_MARK), 15_000, 'the prompt');
    return { term, ticketAt, wsOpen, hello, prompt };
  }

  async closeTerminal(term: BenchTerminal): Promise<void> {
    await term.close();
    this.bench.terminals.delete(term);
  }

  async end(id: string): Promise<number> {
    const t = performance.now();
    const r = await this.server.api('POST', `/api/sessions/${id}/end`);
    if (r.status !== 200 && r.status !== 409) throw new Error(`end session ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    this.live.delete(id);
    return performance.now() - t;
  }

  async health(): Promise<Record<string, unknown>> {
    const r = await this.server.api<Record<string, unknown>>('GET', '/api/health', { token: null });
    return r.body;
  }

  /** The server's log lines (pino JSON, or text) so far. */
  logText(): string {
    return this.server.log.join('');
  }
}

/**
 * ServerProcess.start leaves the child running and its data directory behind when the
 * server never answers: end our own child servers (this process's children running
 * `server/cli/main.ts serve`) and remove the data directory named in its log.
 */
async function reapFailedStart(error: unknown): Promise<void> {
  for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmd.includes('server/cli/main.ts')) continue;
      process.kill(Number(name), 'SIGTERM');
      await sleep(2_000);
      if (fs.existsSync(`/proc/${name}`)) process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone meanwhile, or not Linux
    }
  }
  const dir = /"dataDir":"([^"]+)"/.exec(String(error))?.[1];
  if (dir && path.basename(dir).startsWith('opslab-test-')) await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

export class Bench {
  readonly docker = new Docker();
  readonly events = new EventLog();
  readonly servers = new Set<BenchServer>();
  readonly terminals = new Set<BenchTerminal>();
  /** Other things to end on cleanup (direct exec streams, the wetty process). */
  readonly closers = new Set<() => Promise<void> | void>();
  aborted = false;
  private cleaning: Promise<string[]> | null = null;

  /** Starts an opslab server with the bench's limits (and `env` on top). */
  async startServer(name: string, env: Record<string, string> = {}): Promise<BenchServer> {
    if (this.aborted) throw new Error('interrupted');
    const base: Record<string, string> = {
      // The bench creates sessions faster than a person: lift the per-user rate limit.
      OPSLAB_SESSION_CREATE_PER_MINUTE: '10000',
      OPSLAB_SESSION_MAX_LIVE: String(Math.max(50, OPTS.typists + 5)),
    };
    if (OPTS.sandboxMemoryMb !== undefined) base.OPSLAB_SANDBOX_MEMORY_MB = String(OPTS.sandboxMemoryMb);
    let server: ServerProcess;
    try {
      server = await ServerProcess.start({ ...base, ...env });
    } catch (e) {
      await reapFailedStart(e);
      throw e;
    }
    if (this.aborted) {
      // Interrupted while it started: it is not in `servers`, so cleanup would miss it.
      await server.stop().catch(() => undefined);
      await fs.promises.rm(server.dataDir, { recursive: true, force: true }).catch(() => undefined);
      throw new Error('interrupted');
    }
    const bs = new BenchServer(name, server, this);
    this.servers.add(bs);
    return bs;
  }

  /** Ends the server's live sessions, stops it and removes what it left; returns the leftovers. */
  async stopServer(bs: BenchServer): Promise<string[]> {
    this.servers.delete(bs);
    await mapLimit([...bs.live], 4, (id) =>
      bs.end(id).catch((e: unknown) => log(`ending ${id} on ${bs.name} failed: ${String(e)}`)),
    );
    await bs.server.stop().catch(() => undefined);
    const leftovers = await this.removeLeftovers(bs);
    await fs.promises.rm(bs.server.dataDir, { recursive: true, force: true }).catch(() => undefined);
    return leftovers;
  }

  private async removeLeftovers(bs: BenchServer): Promise<string[]> {
    const leftovers: string[] = [];
    const selectors = bs.ownerId ? [`opslab.owner=${bs.ownerId}`] : bs.all.map((id) => `opslab.session=${id}`);
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
    // Loop devices still backed by disk images in the server's data directory.
    try {
      const out = execFileSync('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const prefix = path.resolve(bs.server.dataDir) + path.sep;
      for (const line of out.split('\n')) {
        const [dev, file] = line.trim().split(/\s+/, 2);
        if (!dev || !file?.startsWith(prefix)) continue;
        leftovers.push(`loop device ${dev}`);
        execFileSync('losetup', ['-d', dev], { stdio: 'ignore' });
      }
    } catch {
      // no losetup, or not root: the server had no disk limits either
    }
    return leftovers;
  }

  /** Ends everything; one run however often it is called. */
  cleanup(): Promise<string[]> {
    this.aborted = true;
    this.cleaning ??= this.doCleanup();
    return this.cleaning;
  }

  private async doCleanup(): Promise<string[]> {
    for (const t of this.terminals) await t.close().catch(() => undefined);
    for (const c of this.closers) await Promise.resolve(c()).catch(() => undefined);
    const leftovers: string[] = [];
    for (const bs of [...this.servers]) leftovers.push(...(await this.stopServer(bs).catch(() => [])));
    this.events.stop();
    return leftovers;
  }
}
