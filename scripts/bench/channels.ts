/**
 * One interface for the three ways into a sandbox's shell that the bench compares:
 * opslab's terminal WebSocket, a direct dockerode TTY exec (the floor: no opslab in
 * between), and the wetty peer (wetty.ts). Echo and throughput are measured the same way
 * over each.
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Bench } from './harness.js';
import type { BenchTerminal } from './term.js';

/** Output as it arrives: bytes (WebSocket, exec) or a string (socket.io). */
export type Chunk = Buffer | string;
export type ChunkListener = (data: Chunk, at: number) => void;

export interface Channel {
  readonly name: string;
  send(data: string): void;
  /** Calls `fn` for every output chunk from now on; returns the unsubscribe function. */
  subscribe(fn: ChunkListener): () => void;
  close(): Promise<void>;
}

export const chunkBytes = (d: Chunk): number => (typeof d === 'string' ? Buffer.byteLength(d) : d.length);
export const chunkTail = (d: Chunk, n: number): string =>
  typeof d === 'string' ? d.slice(-n) : d.subarray(Math.max(0, d.length - n)).toString('latin1');

/** Follows a channel: chunk count, last arrival, the last few KiB of text, "the next chunk". */
export class Probe {
  chunks = 0;
  lastAt = 0;
  text = '';
  private waiters: ((at: number) => void)[] = [];
  private readonly off: () => void;

  constructor(readonly channel: Channel) {
    this.off = channel.subscribe((d, at) => {
      this.chunks++;
      this.lastAt = at;
      this.text = (this.text + chunkTail(d, 4096)).slice(-8192);
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w(at);
    });
  }

  get name(): string {
    return this.channel.name;
  }

  send(data: string): void {
    this.channel.send(data);
  }

  /** Arrival time of the next chunk. */
  next(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let done = false;
      const t = setTimeout(() => {
        done = true;
        reject(new Error(`${this.channel.name}: no output within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push((at) => {
        if (done) return;
        clearTimeout(t);
        resolve(at);
      });
    });
  }

  /** Resolves once the recent text contains `mark` (checked now and on each chunk). */
  async waitText(mark: string, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (!this.text.includes(mark)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.channel.name}: no ${JSON.stringify(mark)} within ${timeoutMs} ms; got ${JSON.stringify(this.text.slice(-300))}`);
      await this.next(left).catch(() => undefined);
    }
    return this.lastAt;
  }

  /** Waits until nothing has arrived for `quietMs`. */
  async quiet(quietMs: number): Promise<void> {
    for (;;) {
      const idle = performance.now() - this.lastAt;
      if (idle >= quietMs) return;
      await new Promise((r) => setTimeout(r, quietMs - idle));
    }
  }

  dispose(): void {
    this.off();
  }
}

export function opslabChannel(term: BenchTerminal): Channel {
  return {
    name: 'opslab',
    send: (d) => term.type(d),
    subscribe: (fn) => term.onOutput(fn),
    close: () => term.close(),
  };
}

/** The candidate's shell settings the direct exec and the wetty peer both use. */
export const PEER_SHELL = {
  user: '1000:1000',
  cwd: '/workspace',
  env: ['HOME=/home/candidate', 'TERM=xterm-256color', 'LANG=C.UTF-8'],
  cmd: ['bash', '--norc', '--noprofile'],
  size: { cols: 120, rows: 32 },
};

/** A bash in the container through a dockerode TTY exec, as the candidate (uid 1000), prompt `direct$ `. */
export async function directChannel(bench: Bench, container: string): Promise<{ channel: Channel; probe: Probe }> {
  const exec = await bench.docker.getContainer(container).exec({
    Cmd: PEER_SHELL.cmd,
    User: PEER_SHELL.user,
    WorkingDir: PEER_SHELL.cwd,
    Env: [...PEER_SHELL.env, 'PS1=direct$ '],
    Tty: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
  const listeners = new Set<ChunkListener>();
  stream.on('data', (d: Buffer) => {
    const at = performance.now();
    for (const l of [...listeners]) l(d, at);
  });
  stream.on('error', () => undefined);
  const close = () => {
    stream.destroy();
    bench.closers.delete(close);
    return Promise.resolve();
  };
  bench.closers.add(close);
  const channel: Channel = {
    name: 'direct',
    send: (d) => stream.write(d),
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close,
  };
  const probe = new Probe(channel);
  await exec.resize({ h: PEER_SHELL.size.rows, w: PEER_SHELL.size.cols }).catch(() => undefined);
  await probe.waitText('direct$ ', 10_000);
  return { channel, probe };
}
