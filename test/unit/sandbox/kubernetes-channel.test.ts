/**
 * The exec/attach channel protocol against a small local WebSocket server that answers
 * the way the API server does (channel byte, empty opening frames, a Status on channel 3,
 * v5's close frame for stdin), and the terminal stream built on two such connections.
 */
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { AppError } from '../../../server/errors.js';
import { CHANNEL, CHANNEL_PROTOCOLS, ChannelSocket, frame, parseExitStatus, runChannelExec, wrapCommand } from '../../../server/sandbox/kubernetes-channel.js';
import { KubernetesTerminalStream } from '../../../server/sandbox/kubernetes-terminal.js';

type Handler = (ws: WebSocket) => void;
let server: WebSocketServer;
let port = 0;
const handlers = new Map<string, Handler>();

beforeAll(async () => {
  server = new WebSocketServer({ port: 0, handleProtocols: (protocols) => (protocols.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  server.on('connection', (ws, req) => {
    // The API server opens every channel it streams with an empty frame.
    ws.send(Buffer.from([CHANNEL.stdout]));
    handlers.get(req.url ?? '')?.(ws);
  });
  await new Promise((r) => server.once('listening', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

let n = 0;
async function connect(handler: Handler): Promise<ChannelSocket> {
  const path = `/t${++n}`;
  handlers.set(path, handler);
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, CHANNEL_PROTOCOLS);
  const socket = new ChannelSocket(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return socket;
}

const success = JSON.stringify({ metadata: {}, status: 'Success' });
const exitWith = (code: number) =>
  JSON.stringify({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: `command terminated with exit code ${code}`, details: { causes: [{ reason: 'ExitCode', message: String(code) }] } });
const end = (ws: WebSocket, status: string) => {
  ws.send(frame(CHANNEL.status, status));
  ws.close(1000);
};

describe('exit statuses', () => {
  it('reads success, an exit code, and a command that could not start', () => {
    expect(parseExitStatus(success)).toEqual({ exitCode: 0 });
    expect(parseExitStatus(exitWith(3))).toEqual({ exitCode: 3 });
    expect(parseExitStatus(JSON.stringify({ status: 'Failure', reason: 'InternalError', message: 'exec: "nosuch": executable file not found' }))).toEqual({
      message: 'exec: "nosuch": executable file not found',
    });
    expect(parseExitStatus('not json').message).toMatch(/unreadable exec status/);
  });
});

describe('wrapping a command', () => {
  it('sets the directory and environment with env(1) and the timeout with timeout(1)', () => {
    expect(wrapCommand(['ls', '-l'], { cwd: '/workspace/a b', env: { A: '1', B_2: 'x y=z' }, timeoutMs: 1500 })).toEqual([
      'env', '-C', '/workspace/a b', 'A=1', 'B_2=x y=z', 'timeout', '-k', '2', '2s', 'ls', '-l',
    ]);
    expect(() => wrapCommand(['true'], { cwd: '/', env: { 'A=B': 'x' }, timeoutMs: 1000 })).toThrow(AppError);
    expect(() => wrapCommand(['true'], { cwd: '/', env: { '1A': 'x' }, timeoutMs: 1000 })).toThrow(/not a variable name/);
  });
});

describe('running an exec', () => {
  it('collects stdout and stderr and reports the exit code', async () => {
    const socket = await connect((ws) => {
      ws.send(frame(CHANNEL.stdout, 'out\n'));
      ws.send(frame(CHANNEL.stderr, 'err\n'));
      end(ws, exitWith(3));
    });
    expect(await runChannelExec(socket, {})).toEqual({ exitCode: 3, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), timedOut: false, truncated: false });
  });

  it('sends stdin in frames and then closes it alone (v5), as `cat` needs to end', async () => {
    const socket = await connect((ws) => {
      const got: Buffer[] = [];
      ws.on('message', (data: Buffer) => {
        if (data[0] === CHANNEL.close && data[1] === CHANNEL.stdin) {
          ws.send(frame(CHANNEL.stdout, String(Buffer.concat(got).length)));
          end(ws, success);
        } else if (data[0] === CHANNEL.stdin) {
          expect(data.length).toBeLessThanOrEqual(64 * 1024 + 1);
          got.push(data.subarray(1));
        }
      });
    });
    const r = await runChannelExec(socket, { stdin: Readable.from([Buffer.alloc(100_000, 'a'), Buffer.alloc(50_000, 'b')]) });
    expect(r).toMatchObject({ exitCode: 0, stdout: Buffer.from('150000') });
  });

  it('keeps at most maxOutputBytes of each stream and says it cut', async () => {
    const socket = await connect((ws) => {
      for (let i = 0; i < 10; i++) ws.send(frame(CHANNEL.stdout, 'x'.repeat(1000)));
      end(ws, success);
    });
    const r = await runChannelExec(socket, { maxOutputBytes: 2500 });
    expect(r.stdout.length).toBe(2500);
    expect(r.truncated).toBe(true);
  });

  it('treats the exit code of timeout(1) as a timeout', async () => {
    const socket = await connect((ws) => end(ws, exitWith(124)));
    expect(await runChannelExec(socket, {})).toMatchObject({ exitCode: 124, timedOut: true });
  });

  it('fails when the stream ends without a status, or the command could not start', async () => {
    const cut = await connect((ws) => ws.close(1000));
    await expect(runChannelExec(cut, {})).rejects.toMatchObject({ code: 'SANDBOX_FAILED', message: expect.stringMatching(/without an exit status/) });
    const notStarted = await connect((ws) => end(ws, JSON.stringify({ status: 'Failure', reason: 'InternalError', message: 'container not found' })));
    await expect(runChannelExec(notStarted, {})).rejects.toMatchObject({ code: 'SANDBOX_FAILED', message: expect.stringMatching(/container not found/) });
  });

  it('stops on abort and closes the connection', async () => {
    let closed = false;
    const socket = await connect((ws) => ws.on('close', () => (closed = true)));
    const started = Date.now();
    await expect(runChannelExec(socket, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect.poll(() => closed).toBe(true);
  });
});

describe('the terminal stream', () => {
  const logger = pino({ level: 'silent' });

  /** An output connection the test drives, and an input connection that records keystrokes. */
  async function terminal() {
    let outWs!: WebSocket;
    let inWs!: WebSocket;
    const typed: string[] = [];
    const output = await connect((ws) => (outWs = ws));
    const input = await connect((ws) => {
      inWs = ws;
      ws.on('message', (d: Buffer) => d[0] === CHANNEL.stdin && typed.push(d.subarray(1).toString()));
    });
    await expect.poll(() => outWs !== undefined && inWs !== undefined).toBe(true);
    const resizes: string[] = [];
    let stopped = 0;
    const stream = new KubernetesTerminalStream({
      input,
      output,
      resize: async (s) => {
        await new Promise((r) => setTimeout(r, 20));
        resizes.push(`${s.cols}x${s.rows}`);
      },
      stopReader: async () => void stopped++,
      logger,
    });
    return { stream, out: (text: string) => outWs.send(frame(CHANNEL.stdout, text)), outWs: () => outWs, inWs: () => inWs, typed, resizes, stopped: () => stopped };
  }

  it('keeps output that arrives before anyone listens, and delivers it to the first listener in order', async () => {
    const t = await terminal();
    t.out('early-1 ');
    t.out('early-2 ');
    await new Promise((r) => setTimeout(r, 100));
    let seen = '';
    t.stream.onData((b) => (seen += b.toString()));
    t.out('live');
    await expect.poll(() => seen).toBe('early-1 early-2 live');
    t.stream.close();
  });

  it('holds output while paused and delivers all of it, in order, after resume', async () => {
    const t = await terminal();
    let seen = '';
    t.stream.onData((b) => (seen += b.toString()));
    t.out('a');
    await expect.poll(() => seen).toBe('a');
    t.stream.pause();
    t.out('b');
    t.out('c');
    await new Promise((r) => setTimeout(r, 150));
    expect(seen).toBe('a');
    t.stream.resume();
    t.out('d');
    await expect.poll(() => seen).toBe('abcd');
    t.stream.close();
  });

  it('sends keystrokes on stdin, and runs resizes one at a time with the latest size last', async () => {
    const t = await terminal();
    t.stream.write('ls\r');
    await expect.poll(() => t.typed.join('')).toBe('ls\r');
    await Promise.all([t.stream.resize({ cols: 80, rows: 24 }), t.stream.resize({ cols: 90, rows: 30 }), t.stream.resize({ cols: 100, rows: 40 })]);
    expect(t.resizes.at(-1)).toBe('100x40');
    expect(t.resizes.length).toBeLessThanOrEqual(2);
    t.stream.close();
  });

  it('ends (once, with a reason) when the input connection drops, so the session re-attaches', async () => {
    const t = await terminal();
    const reasons: string[] = [];
    t.stream.onClose((i) => reasons.push(i.reason));
    t.inWs().close(1011, 'kubelet went away');
    await expect.poll(() => reasons.length).toBe(1);
    expect(reasons[0]).toMatch(/terminal input closed \(1011 kubelet went away\)/);
    t.outWs().close(1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(reasons.length).toBe(1);
  });

  it('detaches on close without reporting an end, and stops the reader in the Pod', async () => {
    const t = await terminal();
    const reasons: string[] = [];
    t.stream.onClose((i) => reasons.push(i.reason));
    t.stream.close();
    t.stream.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(reasons).toEqual([]);
    expect(t.stopped()).toBe(1);
  });
});
